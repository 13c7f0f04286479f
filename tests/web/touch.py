"""Touch only: every action of a browser test as a tap on the page, counted (the benchmark
reads the counts), never `page.fill` or a physical key."""

from __future__ import annotations


class Taps:
    def __init__(self, page: object) -> None:
        self.page = page
        self.count = 0

    def tap(self, selector: str) -> None:
        self.page.click(selector)  # type: ignore[attr-defined]
        self.count += 1

    def keys(self, text: str, pad: str = "") -> None:
        """Type `text` on the on-screen keypad `pad` (a CSS scope), switching to letters and
        back as a clerk would (each switch is a tap)."""
        letters = False
        for char in text:
            want = char.isalpha() or char == "␣"  # space is on the letters panel
            if want != letters:
                self.tap(f"{pad} .key[data-key='{'ABC' if want else '123'}']".strip())
                letters = want
            self.tap(f"{pad} .key[data-key='{char}']:visible".strip())
        if letters:
            self.tap(f"{pad} .key[data-key='123']".strip())

    def sign_in(self, staff_no: str, pin: str) -> None:
        self.tap("#staff-no")
        self.keys(staff_no, "#login-keypad")
        self.tap("#pin")
        self.keys(pin, "#login-keypad")
        self.tap("#sign-in")
