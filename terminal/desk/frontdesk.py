"""`anju terminal run`: the reader loop, the store's one writer and the page, in one process.

    reader thread ──on_card──> Draft ──notice──> Hub ──SSE──> page (renders the guest)
    page ──POST /checkin──> Registry.check_in (writer, commit) ──> "saved" fragment
    probe thread ──GET /api/v1/time every PROBE_S──> server reachable? ──notice──> status bar

The page never waits on the network: the uploader is its own process (`anju sync run`) and this
one only reads the outbox's counts. With `simulate` the process also hosts a simulated reader
on a pseudo-terminal (demo, tests, bench): the reader loop still talks pyserial to it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import requests

from drivers.barcode.hub import ScanEvent, ScanHub
from drivers.barcode.interpret import Rules
from drivers.barcode.serial_scanner import SerialScanner
from drivers.idcard.reader import CardReader, ReaderSettings, ReaderStatus
from drivers.idcard.reading import CardRead
from drivers.idcard.transport import SerialTransport
from drivers.sim.idcard import SimulatedReader
from drivers.sim.scanner import SimulatedScanner
from sync.diagnosis import NEEDS_A_PERSON
from sync.fields import text_problem
from sync.privacy import mask_id_number
from terminal.config import Config
from terminal.desk.draft import Draft
from terminal.desk.health import Health
from terminal.desk.notices import Hub
from terminal.desk.registry import Registry
from terminal.desk.scans import ATTACH, ScanDesk, attachment, place_visa
from terminal.store import outbox
from terminal.store.database import Store
from terminal.store.reader_state import ReaderStateRecorder
from terminal.system.clock import IMPLAUSIBLE, SystemClock
from terminal.system.liveness import Loop, since
from terminal.uploading.sync_service import SyncState
from wlt.decoder import PhotoDecoderConfig, WltDecoder

log = logging.getLogger(__name__)
PROBE_S = 10.0  # how often the server's reachability is looked at
PROBE_TIMEOUT_S = 3.0
# How long each loop may go without progress before the watchdog counts it as hung. One poll is
# bounded by the transport's timeouts (a baud probe at every rate is the longest, a few seconds);
# a transaction waits at most store.busy_timeout_ms for the lock, then one fsync.
READER_BOUND_S = 20.0
WRITER_BOUND_S = 30.0


class TerminalService:
    """Owns the long-lived parts; `start()` the threads, `close()` everything (idempotent)."""

    def __init__(self, config: Config, *, simulate: bool = False,
                 database: Path | None = None) -> None:
        self.config = config
        self.store = Store.from_config(config, path=database, create=True, migrate=True)
        self.registry = Registry(self.store, timezone=config["registry.timezone"])
        # The reader's state for the uploader's heartbeat (another process): in the store.
        self.reader_state = ReaderStateRecorder(self.store)
        self.hub = Hub()
        self.draft = Draft()
        self.clock = SystemClock()
        self.sim: SimulatedReader | None = SimulatedReader(card_left_mode="silent") \
            if simulate else None
        port = self.sim.start().port if self.sim else config["reader.port"]
        settings = ReaderSettings(poll_interval=config["reader.poll_interval_ms"] / 1000)
        transport = SerialTransport(port, baud=config["reader.baud"] or None)
        self.reader = CardReader(transport, self._on_card, settings=settings,
                                 on_status=self._on_reader_status)
        library = config["reader.photo_library"]
        self.photos = WltDecoder(PhotoDecoderConfig(library, config["reader.photo_licence_code"])
                                 if library else None)
        self._init_scanning(config, simulate)
        self.server_reachable: bool | None = None
        self._stop = threading.Event()
        self._probe: threading.Thread | None = None
        self._closed = False

    def _init_scanning(self, config: Config, simulate: bool) -> None:
        """Scanners (serial and/or wedge, or the simulator) and the image decoder, one hub."""
        self.scans = ScanDesk()
        rules = Rules(netid_patterns=tuple(config["scanner.netid_patterns"]),
                      netid_hosts=tuple(config["scanner.netid_hosts"]))
        self.scan_hub = ScanHub(self._on_scan, rules=rules,
                                image_backend=config["scanner.image_backend"])
        self.scanner_sim = SimulatedScanner(framing="crlf") if simulate else None
        port = self.scanner_sim.port if self.scanner_sim else config["scanner.port"]
        self.scanner: SerialScanner | None = None
        if port:
            framing = "crlf" if self.scanner_sim else config["scanner.framing"]
            self.scanner = self.scan_hub.add_serial(port, framing=framing,
                                                    baud=config["scanner.baud"])
        if config["scanner.wedge_device"]:
            self.scan_hub.add_wedge(config["scanner.wedge_device"])

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.reader_state.start()
        self.reader.start()
        if self.scanner_sim is not None:
            self.scanner_sim.start()
        self.scan_hub.start()
        if self.config["sync.server_url"]:
            self._probe = threading.Thread(target=self._probe_loop, name="server-probe",
                                           daemon=True)
            self._probe.start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.reader.stop()
        self.reader_state.stop()
        self.scan_hub.stop()
        if self.scanner_sim is not None:
            self.scanner_sim.stop()
        if self._probe is not None:
            self._probe.join(PROBE_TIMEOUT_S + 1)
        if self.sim is not None:
            self.sim.stop()
        self.store.close()

    # ---- callbacks from the reader thread ---------------------------------------------------

    def _on_card(self, card: CardRead) -> None:
        placed = self.draft.place_card(card)
        log.info("card read: %s %s%s", card.card_type, mask_id_number(card.id_number),
                 {"guest": "", "duplicate": " (already in this party)",
                  "guardian": " (a minor's guardian: name only)"}[placed])
        self.hub.publish("draft", version=self.draft.version)

    def _on_scan(self, event: ScanEvent) -> None:
        """On a scan thread (or an upload's worker thread): keep it, tell the pages."""
        kept = self.scans.keep(event)
        # The kind and use only: a scan's text may be a name or a document number.
        log.info("scan %s: %s -> %s via %s", kept.scan_id, event.interpretation.kind,
                 event.use, event.scan.source)
        use, extra = event.use, {}
        if use == "visa":
            placed = place_visa(kept, self.draft, self.scans)
            use, extra = placed.use, {"guest": placed.name, "passport_scan": placed.passport_scan,
                                      "fill": placed.fill}
            if use == "visa_attached":
                self.hub.publish("draft", version=self.draft.version)
        elif use in ATTACH:
            attached = attachment(event)
            if attached.text is not None and text_problem(attached.text) is not None:
                # Refused, never cleaned: the registration would be refused with it.
                log.warning("scan %s refused: its text holds a control character", kept.scan_id)
                use = "refused_text"
            elif self.draft.attach(attached):
                self.hub.publish("draft", version=self.draft.version)
        self.hub.publish("scan", scan_id=kept.scan_id, use=use, **extra)

    def _on_reader_status(self, status: ReaderStatus) -> None:
        self.reader_state.update(status)
        self.hub.publish("status", reader=status.state)

    def loops(self) -> list[Loop]:
        """What the watchdog watches besides the event loop: the reader loop, the writer."""
        return [since("reader loop", lambda: self.reader.last_progress, READER_BOUND_S),
                since("store writer", lambda: self.store.writer.busy_since, WRITER_BOUND_S)]

    # ---- health -----------------------------------------------------------------------------

    def _probe_loop(self) -> None:
        url = self.config["sync.server_url"].rstrip("/") + "/api/v1/time"
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    reachable = session.get(url, timeout=PROBE_TIMEOUT_S).status_code < 500
                except requests.RequestException:
                    reachable = False
                if reachable != self.server_reachable:
                    # Log the transitions only: the first failure and the recovery.
                    level = logging.INFO if reachable else logging.WARNING
                    log.log(level, "central server %s", "reachable" if reachable else
                            "unreachable")
                    self.server_reachable = reachable
                    self.hub.publish("status", server=reachable)
                # A fast-polling uploader (demo, tests) gets a fast-updating status bar too.
                self._stop.wait(min(PROBE_S, 2.0 * self.config["sync.poll_interval_s"]))

    def health(self) -> Health:
        """Cheap reads only: this runs for every status tick of every open page."""
        with self.store.reader() as conn:
            counts = outbox.summary(conn)
        status = self.reader.status
        _, trust = self.registry.today()
        return Health(
            reader_state=status.state, reader_sam_id=status.sam_id,
            server_reachable=self.server_reachable if self.config["sync.server_url"] else None,
            backlog=counts.backlog, oldest_age_s=counts.oldest_age_s(self.clock.now().wall),
            rejected=counts.rejected,
            clock_synchronised=self.clock.synchronised(),
            disk_free_bytes=self.store.guard.free_bytes(),
            disk_min_bytes=self.config["store.min_free_bytes"],
            clock_plausible=trust.state != IMPLAUSIBLE, server_refusal=self.server_refusal())

    def server_refusal(self) -> str | None:
        """Why the uploader (another process) was last refused, if a person must act: the
        unsigned probe above only says the server answers; the uploader's signed requests say
        whether it accepts this terminal (its state file, a few hundred bytes)."""
        if not self.config["sync.server_url"]:
            return None
        state = SyncState.load(self.config["sync.state_file"])
        code = state.last_error_class if state.last_error else None
        return code if code in NEEDS_A_PERSON else None
