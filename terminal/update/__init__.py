"""The terminal's updater: signed packages from the central side, a health gate, rollback.

    sync service ──heartbeat answer's order──> /var/lib/anju/update-target.json (order.py)
    anju-update.service (root; timer and path unit) ── `anju update run`, one pass:
        state.decide()  idle / wait (slot, window, clerk mid-registration) / install / resume
        installer.py    apt-get from the signed repository only (signature, hashes: apt's)
        gate.py         READY + page answering + a heartbeat accepted after the install,
                        within update.gate_timeout_s; a crash loop fails it at once
        rollback        the previous version again (apt, or the kept .deb), reason recorded
    /var/lib/anju-update/state.json ──read by the sync service──> heartbeat `update` report

The terminal service stays unprivileged: it is only asked, on loopback, whether a registration
is open (/local/update). The updater never opens the store: the outbox is the services' alone,
and each service stops between two transactions. docs/updates.md is the procedure.
"""
