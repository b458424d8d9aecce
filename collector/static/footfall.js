/* Footfall storefront snippet: records shopper behaviour for a Footfall collector. API: docs/snippet.md */
(function (w, d) {
  "use strict";
  if (w.footfall && w.footfall.anonymousId) return;   // included twice: the first copy wins

  var nav = w.navigator, mem = {}, ls = null;
  try { ls = w.localStorage; ls.getItem("ff_aid"); } catch (e) { ls = null; }   // storage off: memory only
  var TYPES = ("page_view click product_view search cart_add cart_remove checkout_started order_placed " +
    "order_refunded identify review feedback experiment_exposure custom").split(" ");
  var MAX_BYTES = 60000;   // per request; a page may have 64 KiB of keepalive bodies in flight
  var K = { aid: "ff_aid", cid: "ff_cid", ses: "ff_session", q: "ff_queue", ft: "ff_first_touch",
    consent: "ff_consent", purposes: "ff_purposes", drop: "ff_dropped", wait: "ff_retry", stub: "ff_stub" };

  // Storage and ids.
  function get(k) { try { return ls ? ls.getItem(k) : k in mem ? mem[k] : null; } catch (e) { return null; } }
  function put(k, v) { try { if (ls) ls.setItem(k, v); else mem[k] = v; return true; } catch (e) { return false; } }
  function del(k) { try { if (ls) ls.removeItem(k); else delete mem[k]; } catch (e) { /* storage off */ } }
  function json(k, fallback) { try { return JSON.parse(get(k)) || fallback; } catch (e) { return fallback; } }
  function uuid() {
    var c = w.crypto, b = new Uint8Array(16), i;
    if (c && c.randomUUID) return c.randomUUID();
    if (c && c.getRandomValues) c.getRandomValues(b); else for (i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function writeCookie(name, value) {
    d.cookie = name + "=" + encodeURIComponent(value || "") + "; path=/; max-age=" + (value ? 31536000 : 0) +
      "; SameSite=Lax" + (w.location.protocol === "https:" ? "; Secure" : "");
  }
  function bytes(s) { return w.TextEncoder ? new TextEncoder().encode(s).length : unescape(encodeURIComponent(s)).length; }
  function cut(s, n) { return s ? String(s).slice(0, n) : undefined; }

  // Configuration and consent.
  var cfg = { host: null, writeKey: null, batchSize: 20, flushInterval: 2000, autocapture: false,
    requireConsent: false, respectDoNotTrack: true, maxQueue: 1000, sessionTimeout: 30 };
  var ready = false, clicks = false, timer = null, timerAt = 0, sending = false, inflight = {}, perRequest = 100, replay = null;
  var script = d.currentScript || d.querySelector("script[src*='footfall.js']");
  var defaultHost = script ? new URL(script.src, w.location.href).origin : w.location.origin;

  function doNotTrack() {
    return cfg.respectDoNotTrack && (nav.doNotTrack === "1" || w.doNotTrack === "1");
  }
  // What a consent(...) call grants, per purpose (undefined: not said).
  function purposes(c) {
    if (c === null || typeof c !== "object") return { analytics: !!c, marketing: !!c };
    function mode(keys) {
      var g; keys.forEach(function (k) { if (c[k] === "denied") g = false; else if (c[k] === "granted" && g !== false) g = true; });
      return g;
    }
    return { analytics: "analytics" in c ? !!c.analytics : mode(["analytics_storage"]),
      marketing: "marketing" in c ? !!c.marketing : mode(["ad_storage", "ad_user_data"]) };
  }
  function recording() { return !doNotTrack() && get(K.consent) !== "0"; }
  function sendable() { return ready && recording() && (!cfg.requireConsent || get(K.consent) === "1"); }

  function anonymousId() {
    var id = readCookie(K.aid) || get(K.aid) || uuid();
    if (get(K.aid) !== id) put(K.aid, id);
    if (readCookie(K.aid) !== id && (!cfg.requireConsent || get(K.consent) === "1")) writeCookie(K.aid, id);
    return id;
  }

  // Sessions and context.
  function campaign(url) {
    var p = new URL(url, w.location.href).searchParams, utm = {}, any = false;
    ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
      var v = p.get("utm_" + k); if (v) { utm[k] = cut(v, 256); any = true; }
    });
    return { utm: any ? utm : null, coupon: cut(p.get("coupon"), 256) };
  }

  // A session ends after `sessionTimeout` minutes without events, or when a new UTM campaign arrives.
  function session(pg, t) {
    var s = json(K.ses, null), here = campaign(pg.url);
    var newCampaign = here.utm && (!s || JSON.stringify(here.utm) !== JSON.stringify(s.utm));
    if (!s || t - s.last > cfg.sessionTimeout * 60000 || newCampaign) {
      s = { id: uuid(), utm: here.utm || {}, coupon: here.coupon, landing: pg.url, referrer: pg.referrer, last: t };
      if (!get(K.ft)) {
        put(K.ft, JSON.stringify({ utm: s.utm, coupon: s.coupon, referrer: s.referrer, landing_page: s.landing,
          at: new Date(t).toISOString() }));
      }
    } else if (here.coupon) s.coupon = here.coupon;
    s.last = Math.max(s.last, t);
    put(K.ses, JSON.stringify(s));
    return s;
  }

  function currentPage() { return { url: w.location.href, referrer: d.referrer, title: d.title }; }

  function context(pg, s) {
    var c = { url: cut(pg.url, 2048), path: new URL(pg.url, w.location.href).pathname.slice(0, 2048),
      referrer: cut(pg.referrer, 2048), title: cut(pg.title, 256), utm: s.utm || {}, coupon: s.coupon,
      landing_page: cut(s.landing, 2048), user_agent: cut(nav.userAgent, 1024), locale: cut(nav.language, 35),
      screen: w.screen ? w.screen.width + "x" + w.screen.height : undefined,
      consent: get(K.consent) === "1" ? json(K.purposes, null) || true : undefined };
    try { c.timezone = cut(Intl.DateTimeFormat().resolvedOptions().timeZone, 64); } catch (e) { /* no Intl */ }
    return c;
  }

  // The persistent queue.
  function queue() { return json(K.q, []); }
  function addDropped(n) { if (n > 0) put(K.drop, String((+get(K.drop) || 0) + n)); }
  function save(q) {   // oldest events go first when the cap or the storage quota is reached
    var over = q.length - cfg.maxQueue;
    if (over > 0) { q = q.slice(over); addDropped(over); }
    while (!put(K.q, JSON.stringify(q)) && q.length) {
      over = Math.ceil(q.length / 4); q = q.slice(over); addDropped(over);
    }
    return q;
  }
  function forget(events) {   // delivered or refused: off the queue (which other tabs may share)
    var ids = {}; events.forEach(function (e) { ids[e.event_id] = 1; });
    save(queue().filter(function (e) { return !ids[e.event_id]; }));
  }

  function build(type, properties, top) {
    var pg = replay ? replay.pg : currentPage(), t = replay ? replay.t : Date.now();
    if (TYPES.indexOf(type) < 0) { properties = { name: String(type), data: properties || {} }; type = "custom"; }
    var s = session(pg, t), e = { event_id: uuid(), type: type, anonymous_id: anonymousId(), session_id: s.id,
      occurred_at: new Date(t).toISOString(), context: context(pg, s) };
    var cid = get(K.cid); if (cid) e.customer_id = cid;
    if (properties) e.properties = properties;
    for (var k in top) e[k] = top[k];
    return e;
  }
  function record(type, properties, top) {
    if (!recording()) return null;
    var e = build(type, properties, top);
    if (bytes(JSON.stringify(e)) > MAX_BYTES - 1000) { addDropped(1); return null; }   // can never be sent
    var q = queue(); q.push(e); q = save(q);
    if (q.length >= cfg.batchSize) flush(); else schedule(cfg.flushInterval);
    return e.event_id;
  }

  // Sending.
  function waitState() { return json(K.wait, { at: 0, backoff: 0, hold: 0 }); }
  function schedule(delay) {
    if (!ready) return;
    var at = Math.max(Date.now() + delay, waitState().at);
    if (timer && timerAt <= at) return;
    clearTimeout(timer); timerAt = at;
    timer = setTimeout(function () { timer = null; flush(); }, at - Date.now());
  }

  // Requests of at most `perRequest` events and MAX_BYTES bytes; the first carries the drop count.
  function chunks(q) {
    var out = [], cur = [], size = 0, base = 200 + bytes(String(cfg.writeKey));
    q.forEach(function (e) {
      if (inflight[e.event_id]) return;
      var n = bytes(JSON.stringify(e)) + 1;
      if (cur.length && (base + size + n > MAX_BYTES || cur.length >= perRequest)) { out.push(cur); cur = []; size = 0; }
      cur.push(e); size += n;
    });
    if (cur.length) out.push(cur);
    return out.map(function (events, i) { return { events: events, dropped: i ? 0 : +get(K.drop) || 0 }; });
  }
  function body(part) {
    return JSON.stringify({ write_key: cfg.writeKey, sent_at: new Date().toISOString(), dropped: part.dropped,
      batch: part.events });
  }
  function delivered(part) {
    forget(part.events);
    if (part.dropped) put(K.drop, String(Math.max(0, (+get(K.drop) || 0) - part.dropped)));
  }
  function retryAfter(r) {   // seconds (the collector's form)
    return r.status === 429 || r.status === 503 ? Math.max(0, +r.headers.get("Retry-After") * 1000 || 0) : 0;
  }
  function succeeded() { del(K.wait); }
  function failed(hold) {   // exponential backoff 1 s .. 60 s with jitter, never sooner than Retry-After
    var s = waitState(), backoff = Math.min(s.backoff ? s.backoff * 2 : 1000, 60000);
    var delay = Math.max(backoff * (0.5 + Math.random() / 2), hold);
    put(K.wait, JSON.stringify({ at: Date.now() + delay, backoff: backoff, hold: hold ? Date.now() + hold : 0 }));
    schedule(0);
  }

  function tell(e) {   // one try, outside the queue: the ids are forgotten right after
    fetch(cfg.host + "/v1/batch", { method: "POST", keepalive: true, body: body({ events: [e], dropped: 0 }),
      credentials: "omit", headers: { "Content-Type": "text/plain" } }).catch(function () { /* best effort */ });
  }

  // One request; resolves to GO_ON, STOP (retry later) or SPLIT (413: resend in smaller requests).
  var STOP = 0, GO_ON = 1, SPLIT = 2;
  function post(part) {
    part.events.forEach(function (e) { inflight[e.event_id] = 1; });
    function done() { part.events.forEach(function (e) { delete inflight[e.event_id]; }); }
    return fetch(cfg.host + "/v1/batch", { method: "POST", keepalive: true, body: body(part), credentials: "omit",
      headers: { "Content-Type": "text/plain" } }).then(function (r) {
      done();
      if (r.ok) {
        delivered(part); succeeded();
        r.json().then(function (res) {
          (res.rejected || []).forEach(function (x) { console.warn("footfall: event refused:", x.event_id, x.reason); });
        }, function () { /* empty body */ });
        return GO_ON;
      }
      if (r.status === 400) { forget(part.events); return GO_ON; }   // unreadable: resending cannot help
      if (r.status === 413) {
        if (part.events.length === 1) { forget(part.events); return GO_ON; }
        perRequest = Math.max(1, part.events.length >> 1);
        return SPLIT;
      }
      failed(retryAfter(r));
      return STOP;
    }, function () { done(); failed(0); return STOP; });
  }

  function flush() {
    if (!sendable() || sending) return;
    var wait = waitState().at - Date.now();
    if (wait > 0) return schedule(wait);
    var parts = chunks(queue());
    if (!parts.length) return;
    sending = true;
    (function next() {   // one request at a time: keepalive bodies in flight share one 64 KiB quota
      var part = parts.shift();
      if (!part) {
        sending = false;
        var left = queue().length;
        if (left) schedule(left >= cfg.batchSize ? 0 : cfg.flushInterval);
        return;
      }
      post(part).then(function (how) {
        if (how === GO_ON) return next();
        sending = false;
        if (how === SPLIT) flush();
      });
    })();
  }

  // The page may be gone before a fetch resolves: beacons. During a backoff the events stay
  // queued for the next page instead (a beacon "sent" to a collector that is down is lost).
  function flushOnHide() {
    if (!sendable() || waitState().at > Date.now()) return;
    chunks(queue()).every(function (part) {
      var ok = false;
      try { ok = nav.sendBeacon(cfg.host + "/v1/batch", new Blob([body(part)], { type: "text/plain" })); } catch (e) { ok = false; }
      if (ok) delivered(part); else post(part);
      return ok;
    });
  }

  function resume() {
    var s = waitState();
    if (s.at) put(K.wait, JSON.stringify({ at: s.hold, backoff: 0, hold: s.hold }));
    flush();
  }

  // Click autocapture.
  var INTS = { quantity: 1, rating: 1, results: 1, score: 1 };
  function clicked(ev) {
    var el = ev.target && ev.target.closest &&
      ev.target.closest("[data-footfall-event],a[href],button,[role=button],input[type=submit],input[type=button]");
    if (!el || el.closest("[data-footfall-ignore]")) return;
    var type = "click", data = {};
    Array.prototype.forEach.call(el.attributes, function (a) {
      if (a.name.indexOf("data-footfall-") !== 0) return;
      var key = a.name.slice(14).replace(/-/g, "_");
      if (key === "event") type = a.value;
      else data[key] = INTS[key] && /^\d+$/.test(a.value) ? +a.value : a.value;
    });
    if (type === "click") {
      data = { element: cut(data.element || el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""), 256),
        text: cut(data.text || (el.value && el.tagName === "INPUT" ? el.value : (el.textContent || "").replace(/\s+/g, " ").trim()), 200),
        href: cut(data.href || el.href, 2048) };
    }
    record(type, data);
  }

  // The public API.
  function product(type) { return function (p) { return record(type, p); }; }
  var api = {
    init: function (writeKey, options) {
      cfg.writeKey = writeKey;
      for (var k in options || {}) if (k in cfg) cfg[k] = options[k];
      cfg.host = String(cfg.host || defaultHost).replace(/\/+$/, "");
      if (cfg.autocapture && !clicks) { clicks = true; d.addEventListener("click", clicked, true); }
      if (!ready) {
        ready = true;
        d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flushOnHide(); });
        w.addEventListener("pagehide", flushOnHide);
        w.addEventListener("pageshow", function (e) { if (e.persisted) resume(); });
        w.addEventListener("online", resume);
      }
      flush();
    },
    page: function (properties) { return record("page_view", properties || {}); },
    track: function (type, properties) { return record(type, properties); },
    identify: function (customerId, traits) {
      var id = customerId == null ? "" : String(customerId), clean = {};
      if (!id) return null;
      if (get(K.cid) && get(K.cid) !== id) api.reset();   // another person on this device
      for (var k in traits || {}) {
        var v = traits[k];
        if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") clean[k] = v;
      }
      if (recording()) put(K.cid, id);
      return record("identify", { traits: clean }, { customer_id: id });
    },
    productView: product("product_view"),
    cartAdd: product("cart_add"),
    cartRemove: product("cart_remove"),
    checkoutStarted: product("checkout_started"),
    orderPlaced: product("order_placed"),
    review: product("review"),
    consent: function (choice) {   // true/false, {analytics, marketing} or Consent Mode signals
      var p = purposes(choice), said = JSON.stringify(p), changed = said !== get(K.purposes);
      if (p.analytics === false) {   // refused or withdrawn: say so once, then forget what is queued and who this is
        if (changed && sendable()) tell(build("custom", { name: "consent" }, { context: { consent: p } }));
        put(K.consent, "0"); put(K.purposes, said);
        [K.q, K.drop, K.aid, K.cid, K.ses, K.ft, K.stub, K.wait].forEach(del);
        writeCookie(K.aid, null);
        return;
      }
      if (p.analytics) put(K.consent, "1");
      put(K.purposes, said);
      if (p.analytics) anonymousId();
      if (changed && p.marketing === false && get(K.consent) === "1") record("custom", { name: "consent" });   // a withdrawal reaches the profile at once
      flush();
    },
    reset: function () {   // logout: queued events keep their ids; what follows is a new visitor
      [K.aid, K.cid, K.ses, K.ft].forEach(del);
      writeCookie(K.aid, null);
    },
    flush: flush,
    anonymousId: function () { return recording() ? anonymousId() : null; },
    queued: function () { return queue().length; }
  };

  // Replay calls made before the script arrived: first those saved by pages that were left
  // before it loaded (with their own page and time), then this page's stub queue, in order.
  var stub = w.footfall, saved = json(K.stub, []), calls = [];
  del(K.stub);
  saved.forEach(function (p) {
    if (stub && p.id === stub.id) return;   // this very page, back from the bfcache: its queue is below
    (p.q || []).forEach(function (c) { calls.push([c, { pg: { url: p.url, referrer: p.referrer, title: p.title }, t: c[2] || Date.now() }]); });
  });
  ((stub && stub.q) || []).forEach(function (c) { calls.push([c, { pg: currentPage(), t: c[2] || Date.now() }]); });
  if (stub && stub.q) stub.q.length = 0;
  w.footfall = api;
  calls.forEach(function (c) {
    if (typeof api[c[0][0]] !== "function") return;
    replay = c[1];
    try { api[c[0][0]].apply(null, c[0][1] || []); } catch (e) { console.error("footfall:", e); } finally { replay = null; }
  });
})(window, document);
