"""Touch only: every action of a browser test as a tap on the page, counted (the benchmark
reads the counts), never `page.fill` or a physical key.

A keypad's keys are tapped as real pointer events at the centre of each key, where the page
shows it: the keys of a run (up to a panel switch, which moves them) are found in one look at
the page, each checked to be the element a finger there would touch (`elementFromPoint`, as
Playwright's own hit check), then pressed one after another with the mouse. `page.click` spent
~24 ms of CPU and ~50 ms on each key waiting for the key to be visible, stable and hittable all
over again; this ~5 ms. Should a key not be there to touch (hidden, covered, scrolled away),
that run is tapped by `page.click`, which waits for it.
"""

from __future__ import annotations

# ([pad, keys]) -> the centre of each key's visible copy inside `pad`, or null for a key that
# a tap there would not reach.
KEY_CENTRES_JS = """([pad, keys]) => {
  const scope = pad ? document.querySelector(pad) : document;
  if (!scope) return keys.map(() => null);
  return keys.map(key => {
    for (const el of scope.querySelectorAll('.key[data-key="' + CSS.escape(key) + '"]')) {
      const box = el.getBoundingClientRect();
      if (!box.width || !box.height) continue;
      const x = box.left + box.width / 2, y = box.top + box.height / 2;
      const hit = document.elementFromPoint(x, y);
      if (hit && (hit === el || el.contains(hit))) return [x, y];
    }
    return null;
  });
}"""

SWITCHES = ("ABC", "123")  # keys that swap the pad's panel, and so move the keys after them


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
        presses: list[str] = []
        letters = False
        for char in text:
            want = char.isalpha() or char == "␣"  # space is on the letters panel
            if want != letters:
                presses.append("ABC" if want else "123")
                letters = want
            presses.append(char)
        if letters:
            presses.append("123")
        run: list[str] = []
        for key in presses:
            run.append(key)
            if key in SWITCHES:
                self._press(run, pad)
                run = []
        self._press(run, pad)

    def _press(self, run: list[str], pad: str) -> None:
        """Tap the keys of one run (no panel switch before its last key)."""
        if not run:
            return
        centres = self.page.evaluate(KEY_CENTRES_JS, [pad, run])  # type: ignore[attr-defined]
        if None in centres:
            for key in run:
                visible = "" if key in SWITCHES else ":visible"
                self.tap(f"{pad} .key[data-key='{key}']{visible}".strip())
            return
        for x, y in centres:
            self.page.mouse.click(x, y)  # type: ignore[attr-defined]
            self.count += 1

    def sign_in(self, staff_no: str, pin: str) -> None:
        self.tap("#staff-no")
        self.keys(staff_no, "#login-keypad")
        self.tap("#pin")
        self.keys(pin, "#login-keypad")
        self.tap("#sign-in")
