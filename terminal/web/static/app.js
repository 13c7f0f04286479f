// Front desk: the event stream (party and status bar), the keypad, the clock, the idle lock.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  window.anju = { lastDraft: null, streamOpen: false };

  function swap(id, html) {
    var el = $(id);
    if (!el) return false;
    el.innerHTML = html;
    if (window.htmx) window.htmx.process(el);
    return true;
  }

  // The CSRF token (terminal/web/guard.py): htmx sends it from <body hx-headers>, plain
  // forms from their hidden field, fetch from the meta tag. The stream renews it on connect.
  function csrf() {
    var meta = document.querySelector("meta[name=anju-csrf]");
    return meta ? meta.content : "";
  }

  function renewCsrf(token) {
    if (!token || token === csrf()) return;
    document.querySelector("meta[name=anju-csrf]").content = token;
    document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRF-Token": token }));
    document.querySelectorAll("input[name=csrf_token]").forEach(function (el) { el.value = token; });
  }

  function connect() {
    var source = new EventSource("/events");
    // Open: the server has subscribed this page to its notices (tests wait for it).
    source.addEventListener("open", function () { window.anju.streamOpen = true; });
    source.addEventListener("csrf", function (ev) { renewCsrf(ev.data); });
    // The clerk's session ended (locked elsewhere, or idle): nothing more comes; sign in again.
    source.addEventListener("locked", function () { source.close(); location.href = "/login"; });
    source.addEventListener("draft", function (ev) {
      var nl = ev.data.indexOf("\n");
      var meta = JSON.parse(ev.data.slice(0, nl));
      var shown = swap("party", ev.data.slice(nl + 1));
      if (shown) restore();
      if (!shown) {
        // A card placed while the clerk is on another screen: go to check-in to show it.
        if (!meta.initial && meta.guests && document.body.dataset.path !== "/") location.href = "/";
        return;
      }
      // For the bench: when the reading's fragment reached the DOM, against the read time.
      window.anju.lastDraft = { version: meta.version, readAt: meta.read_at * 1000,
                                shownAt: performance.timeOrigin + performance.now() };
      var room = $("room");
      if (room && meta.read_at) room.focus();
    });
    source.addEventListener("status", function (ev) { swap("statusbar", ev.data); tick(); });
    source.addEventListener("scan", function (ev) {
      var nl = ev.data.indexOf("\n");
      var meta = JSON.parse(nl < 0 ? ev.data : ev.data.slice(0, nl));
      if (meta.url) { openForm(meta.url); return; }  // a document: the form, prefilled
      if (meta.fill) fillVisa(meta);
      swap("scanmsg", ev.data.slice(nl + 1));
    });
  }

  // A visa matched to the passport whose form is open here: its fields filled in place.
  function fillVisa(meta) {
    var form = $("manual");
    var scan = form && form.querySelector("input[name=scan_id]");
    if (!scan || scan.value !== meta.for_scan) return;
    Object.keys(meta.fill).forEach(function (name) {
      var input = form.querySelector("[name='" + name + "']");
      if (input) { input.value = meta.fill[name]; input.classList.add("scanned"); }
    });
  }

  // The prefilled form replaces the screen in place (no page reload: the scan-to-form time
  // is the clerk's wait); any surprise falls back to a plain navigation.
  function openForm(url) {
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok || r.redirected) throw new Error("navigate");
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var main = doc.getElementById("main"), tabs = doc.querySelector("nav.tabs");
      if (!main || !tabs) throw new Error("navigate");
      document.querySelector("nav.tabs").innerHTML = tabs.innerHTML;
      swap("main", main.innerHTML);
      swap("scanmsg", "");
      history.pushState(null, "", url);
      document.body.dataset.path = "/manual";
      markScan();
    }).catch(function () { location.href = url; });
  }

  function markScan() {
    var form = $("manual");
    if (form && form.dataset.scanReceived) {  // for the bench: scan received -> form shown
      window.anju.lastScan = { receivedAt: parseFloat(form.dataset.scanReceived) * 1000,
                               shownAt: performance.timeOrigin + performance.now() };
    }
  }

  window.addEventListener("popstate", function () { location.reload(); });

  function tick() {
    var c = $("clock");
    // The guesthouse's time zone, whatever the kiosk browser's own setting.
    if (c) c.textContent = new Date().toLocaleTimeString("zh-CN", {
      timeZone: document.body.dataset.tz || undefined, hour: "2-digit", minute: "2-digit"});
  }

  // On-screen keypads (templates/_keypad.html): a key types into the input last focused
  // that has data-kp, else into the keypad's default input. data-kp="date" adds the dashes
  // of the page's own format (2031-05-01) as the digits come.
  var kpTarget = null;
  document.addEventListener("focusin", function (ev) {
    if (ev.target.dataset && ev.target.dataset.kp) kpTarget = ev.target;
  });

  function kpInput(pad) {
    if (kpTarget && document.body.contains(kpTarget)) return kpTarget;
    return $(pad.dataset.default) || document.querySelector("[data-kp]");
  }

  function typeKey(input, k) {
    var max = input.maxLength > 0 ? input.maxLength : 400;  // names: never cut by the pad
    var v = input.value;
    if (k === "CLR") v = "";  // the clear key (the letter C types a C)
    else if (k === "⌫") v = v.slice(0, -1);
    else if (v.length < max) v += k === "␣" ? " " : k;
    if (input.dataset.kp === "date") {
      var d = v.replace(/\D/g, "").slice(0, 8);
      v = d.length > 6 ? d.slice(0, 4) + "-" + d.slice(4, 6) + "-" + d.slice(6)
        : d.length > 4 ? d.slice(0, 4) + "-" + d.slice(4) : d;
    }
    input.value = v;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Pinyin (中 on the letters panel): letters build a syllable, the characters it may be
  // (static/pinyin.json, terminal/web/pinyin_table.py) are offered a few at a time, and the
  // one tapped is typed as it is. The table is fetched on the first 中 only.
  var PAGE = 5;
  var pinyinTable = null;
  function loadPinyin(done) {
    if (pinyinTable) { done(); return; }
    fetch("/static/pinyin.json", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (t) { pinyinTable = t; done(); })
      .catch(function () { pinyinTable = {}; done(); });
  }
  function candidates(buffer) {
    if (!buffer || !pinyinTable) return [];
    if (pinyinTable[buffer]) return Array.from(pinyinTable[buffer]);
    var out = [];  // a syllable not finished yet: every syllable it begins
    Object.keys(pinyinTable).forEach(function (s) {
      if (s.indexOf(buffer) === 0) out = out.concat(Array.from(pinyinTable[s]));
    });
    return Array.from(new Set(out));
  }
  function showCands(pad) {
    var box = pad.querySelector(".kp-cands");
    var buffer = pad.dataset.buffer || "";
    var all = candidates(buffer);
    var pages = Math.max(1, Math.ceil(all.length / PAGE));
    var page = parseInt(pad.dataset.page || "0", 10) % pages;  // › goes round to the first
    pad.dataset.page = String(page);
    box.querySelector(".kp-buffer").textContent = buffer;
    var list = box.querySelector(".kp-cand-list");
    list.innerHTML = "";
    all.slice(page * PAGE, page * PAGE + PAGE).forEach(function (c) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "key kp-cand"; b.dataset.key = "CAND"; b.dataset.char = c;
      b.textContent = c;
      list.appendChild(b);
    });
    box.querySelector("[data-key=NEXT]").disabled = pages < 2;
  }
  function pinyinKey(pad, input, k, key) {
    var buffer = pad.dataset.buffer || "";
    if (k === "CAND") { typeKey(input, key.dataset.char); buffer = ""; pad.dataset.page = "0"; }
    else if (k === "NEXT") pad.dataset.page = String(parseInt(pad.dataset.page || "0", 10) + 1); else if (k === "⌫" && buffer) { buffer = buffer.slice(0, -1); pad.dataset.page = "0"; }
    else if (/^[A-Z]$/.test(k) && buffer.length < 6) { buffer += k.toLowerCase(); pad.dataset.page = "0"; }
    else if (k === "␣" && buffer) {  // as on a phone: space takes the first candidate
      var first = candidates(buffer)[0];
      if (first) typeKey(input, first);
      buffer = "";
    } else if (!/^[A-Z]$/.test(k)) { typeKey(input, k); }
    pad.dataset.buffer = buffer;
    showCands(pad);
  }

  document.addEventListener("click", function (ev) {
    var key = ev.target.closest && ev.target.closest(".key");
    var pad = key && key.closest(".keypad");
    if (!pad) return;
    var k = key.dataset.key;
    if (k === "ABC" || k === "123") {  // letters and digits share the keypad's place
      pad.querySelector(".kp-letters").hidden = k !== "ABC";
      pad.querySelector(".kp-digits").hidden = k === "ABC";
      var cands = pad.querySelector(".kp-cands");
      if (cands) cands.hidden = k !== "ABC" || pad.dataset.pinyin !== "on";
      return;
    }
    if (k === "PY") {
      var on = pad.dataset.pinyin !== "on";
      pad.dataset.pinyin = on ? "on" : "";
      pad.dataset.buffer = "";
      key.setAttribute("aria-pressed", on ? "true" : "false");
      loadPinyin(function () { pad.querySelector(".kp-cands").hidden = !on; showCands(pad); });
      return;
    }
    var input = kpInput(pad);
    if (!input) return;
    if (pad.dataset.pinyin === "on" && !pad.querySelector(".kp-letters").hidden) {
      pinyinKey(pad, input, k, key);
      return;
    }
    typeKey(input, k);
  });

  // What the clerk typed on the check-in form (room, guardian, reasons) survives the party's
  // re-render when another card comes and a reload; forgotten once saved or cleared. Only
  // in this tab's sessionStorage, never a PIN.
  var KEEP = "anju.checkin";
  function kept() {
    try { return JSON.parse(sessionStorage.getItem(KEEP) || "{}"); } catch (e) { return {}; }
  }
  function keepField(el) {
    if (!el.name || el.name === "draft_version" || el.type === "password" ||
        !el.closest || !el.closest("#checkin")) return;
    var all = kept();
    if (el.type === "checkbox") all[el.name] = el.checked ? el.value : "";
    else if (el.type !== "radio" || el.checked) all[el.name] = el.value;
    sessionStorage.setItem(KEEP, JSON.stringify(all));
  }
  function restore() {
    var form = $("checkin");
    if (!form) return;
    if ($("saved")) { sessionStorage.removeItem(KEEP); return; }
    var all = kept();
    Object.keys(all).forEach(function (name) {
      form.querySelectorAll("[name=\"" + CSS.escape(name) + "\"]").forEach(function (el) {
        if (el.type === "checkbox" || el.type === "radio") el.checked = el.value === all[name];
        else if (!el.value) el.value = all[name];
      });
    });
  }
  ["input", "change"].forEach(function (t) {
    document.addEventListener(t, function (ev) { keepField(ev.target); });
  });
  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("[data-forget]")) sessionStorage.removeItem(KEEP);
  });
  document.addEventListener("htmx:afterSwap", restore);

  // A long list (nationality): the filter above it keeps the options that match.
  document.addEventListener("input", function (ev) {
    var name = ev.target.dataset && ev.target.dataset.filter;
    var list = name && document.querySelector("select[name=" + name + "]");
    if (!list) return;
    var q = ev.target.value.trim().toUpperCase();
    var first = null;
    list.querySelectorAll("option").forEach(function (o) {
      var hit = !q || !o.value || o.textContent.toUpperCase().indexOf(q) >= 0;
      o.hidden = !hit;
      if (hit && o.value && !first) first = o;
    });
    if (q && first) list.value = first.value;  // the best match is chosen, visibly
  });

  // A field chooser (the amend form): the value input takes the chosen field's keypad mode
  // and its current value, ready to be corrected on the keypad.
  document.addEventListener("change", function (ev) {
    var target = ev.target.dataset && $(ev.target.dataset.kpSwitch);
    if (!target) return;
    var option = ev.target.selectedOptions[0];
    target.dataset.kp = option.dataset.kp || "alnum";
    target.value = option.dataset.current || "";
    target.focus();
  });

  // Preset choices (reasons, relationships): a tap fills the field; free text stays possible.
  document.addEventListener("click", function (ev) {
    var chip = ev.target.closest && ev.target.closest("[data-fill]");
    if (!chip) return;
    var input = $(chip.dataset.fill);
    if (!input) return;
    input.value = chip.dataset.value || chip.textContent.trim();
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });

  var idle = parseInt(document.body.dataset.idleLock || "0", 10);
  if (idle > 0) {
    var last = Date.now();
    ["click", "keydown", "touchstart"].forEach(function (t) {
      document.addEventListener(t, function () { last = Date.now(); }, true);
    });
    setInterval(function () {
      if (Date.now() - last > idle * 1000 && $("lock")) $("lock").click();
    }, 5000);
  }

  // A picture of a code (camera or file): posted as is, decoded by the service's worker.
  document.addEventListener("change", function (ev) {
    if (ev.target.id !== "scan-file" || !ev.target.files.length) return;
    var file = ev.target.files[0];
    swap("scanmsg", "");
    fetch("/scan/image", { method: "POST", body: file, credentials: "same-origin",
                           headers: { "Content-Type": file.type || "application/octet-stream",
                                      "X-CSRF-Token": csrf() } })
      .then(function (r) { return r.text(); })
      .then(function (html) { if (!$("scan-checks")) swap("scanmsg", html); });
    ev.target.value = "";
  });

  // A write the page refused (403: expired token, foreign origin) says why where scans do.
  document.addEventListener("htmx:responseError", function (ev) {
    if (ev.detail.xhr.status === 403) swap("scanmsg", ev.detail.xhr.responseText);
  });

  document.addEventListener("DOMContentLoaded", function () {
    markScan();
    restore();
    tick();
    setInterval(tick, 30000);
    if (document.body.dataset.path !== "/login") connect();  // signed out: nothing to stream
  });
})();
