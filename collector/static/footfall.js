/* Footfall storefront snippet. https://github.com/footfall — Apache-2.0 */
(function (w, d) {
  "use strict";
  var ls = w.localStorage, nav = w.navigator;
  var TYPES = ["page_view", "click", "product_view", "search", "cart_add", "cart_remove",
    "checkout_started", "order_placed", "order_refunded", "identify", "review", "feedback",
    "experiment_exposure", "custom"];
  var CHUNK = 60000;           // keepalive / beacon quota is 64 KiB per request
  var K = { aid: "ff_aid", cid: "ff_cid", ses: "ff_session", q: "ff_queue", ft: "ff_first_touch",
    consent: "ff_consent", drop: "ff_dropped", stub: "ff_stub" };

  function get(key) { try { return ls.getItem(key); } catch (e) { return null; } }
  function set(key, value) { try { ls.setItem(key, value); } catch (e) { /* storage full or off */ } }
  function del(key) { try { ls.removeItem(key); } catch (e) { /* storage off */ } }
  function json(key, fallback) { try { return JSON.parse(get(key)) || fallback; } catch (e) { return fallback; } }
  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = new Uint8Array(16); w.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function cookie(name, value) {
    if (value === undefined) {
      var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
      return m ? decodeURIComponent(m[1]) : null;
    }
    d.cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=" + (value ? 31536000 : 0) + "; SameSite=Lax";
  }
  function now() { return new Date().toISOString(); }

  var cfg = { host: null, writeKey: null, batchSize: 20, flushInterval: 2000, autocapture: false,
    requireConsent: false, respectDoNotTrack: true, maxQueue: 1000, sessionTimeout: 30 };
  var ready = false, timer = null, backoff = 0, retryAt = 0, sending = false;

  function scriptHost() {
    var s = d.currentScript || d.querySelector("script[src*='footfall.js']");
    return s ? new URL(s.src, w.location.href).origin : w.location.origin;
  }
  var defaultHost = scriptHost();

  function anonymousId() {
    var id = cookie(K.aid) || get(K.aid);
    if (!id) id = uuid();
    cookie(K.aid, id); set(K.aid, id);
    return id;
  }

  function utmOf(search) {
    var p = new URLSearchParams(search), utm = {}, any = false;
    ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
      var v = p.get("utm_" + k); if (v) { utm[k] = v; any = true; }
    });
    return { utm: any ? utm : null, coupon: p.get("coupon") };
  }

  // A session ends after `sessionTimeout` minutes without events, or with a new UTM campaign.
  function session() {
    var s = json(K.ses, null), t = Date.now(), here = utmOf(w.location.search);
    var newCampaign = here.utm && (!s || JSON.stringify(here.utm) !== JSON.stringify(s.utm));
    if (!s || t - s.last > cfg.sessionTimeout * 60000 || newCampaign) {
      s = { id: uuid(), utm: here.utm || {}, coupon: here.coupon, landing: w.location.href,
        referrer: d.referrer || null };
      if (!get(K.ft)) set(K.ft, JSON.stringify({ utm: s.utm, referrer: s.referrer, landing: s.landing, at: now() }));
    }
    s.last = t; set(K.ses, JSON.stringify(s));
    return s;
  }

  function context(s) {
    var c = { url: w.location.href, path: w.location.pathname, title: d.title || null,
      referrer: d.referrer || null, utm: s.utm || {}, landing_page: s.landing,
      locale: nav.language || null, screen: w.screen ? w.screen.width + "x" + w.screen.height : null,
      consent: cfg.requireConsent ? get(K.consent) === "1" : null };
    try { c.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old browser */ }
    if (s.coupon) c.coupon = s.coupon;
    for (var k in c) if (c[k] === null || c[k] === undefined) delete c[k];
    return c;
  }

  function blocked() {
    return cfg.respectDoNotTrack && (nav.doNotTrack === "1" || w.doNotTrack === "1");
  }

  function enqueue(type, properties, extra) {
    if (blocked()) return null;
    if (TYPES.indexOf(type) < 0) { properties = { name: String(type), data: properties || {} }; type = "custom"; }
    var s = session(), e = { event_id: uuid(), type: type, anonymous_id: anonymousId(),
      session_id: s.id, occurred_at: now(), context: context(s) };
    var cid = get(K.cid); if (cid) e.customer_id = cid;
    if (properties) e.properties = properties;
    if (extra) for (var k in extra) e[k] = extra[k];
    var q = json(K.q, []);
    q.push(e);
    if (q.length > cfg.maxQueue) {   // oldest first; the loss is reported with the next batch
      var over = q.length - cfg.maxQueue;
      q = q.slice(over);
      set(K.drop, String((+get(K.drop) || 0) + over));
    }
    set(K.q, JSON.stringify(q));
    if (q.length >= cfg.batchSize) flush(); else schedule(cfg.flushInterval);
    return e.event_id;
  }

  function schedule(delay) {
    if (timer) return;
    timer = setTimeout(function () { timer = null; flush(); }, Math.max(delay, retryAt - Date.now(), 0));
  }

  function allowed() {
    return ready && !blocked() && (!cfg.requireConsent || get(K.consent) === "1");
  }

  // Split the queue into request bodies that each stay under the keepalive/beacon quota.
  function chunks(q) {
    var out = [], cur = [], size = 200;
    q.forEach(function (e) {
      var n = JSON.stringify(e).length + 1;
      if (cur.length && (size + n > CHUNK || cur.length >= 100)) { out.push(cur); cur = []; size = 200; }
      cur.push(e); size += n;
    });
    if (cur.length) out.push(cur);
    return out;
  }

  function body(events) {
    var b = { write_key: cfg.writeKey, sent_at: now(), batch: events }, dropped = +get(K.drop) || 0;
    if (dropped) b.dropped = dropped;
    return JSON.stringify(b);
  }

  function forget(events) {   // remove delivered (or refused) events from the persistent queue
    var ids = {}; events.forEach(function (e) { ids[e.event_id] = 1; });
    set(K.q, JSON.stringify(json(K.q, []).filter(function (e) { return !ids[e.event_id]; })));
  }

  function flush() {
    if (!allowed() || sending || Date.now() < retryAt) { if (json(K.q, []).length && ready) schedule(cfg.flushInterval); return; }
    var q = json(K.q, []); if (!q.length) return;
    var parts = chunks(q), url = cfg.host + "/v1/batch";
    sending = true;
    Promise.all(parts.map(function (events) {
      var text = body(events);
      return fetch(url, { method: "POST", keepalive: true, body: text,
        headers: { "Content-Type": "text/plain" }, credentials: "omit" })
        .then(function (r) {
          if (r.ok || r.status === 400 || r.status === 401 || r.status === 403 || r.status === 413) {
            forget(events); del(K.drop); return 0;
          }
          return r.status === 429 || r.status === 503 ? (+r.headers.get("Retry-After") || 1) * 1000 : -1;
        }, function () { return -1; });
    })).then(function (waits) {
      sending = false;
      var failed = waits.filter(function (x) { return x !== 0; });
      if (!failed.length) { backoff = 0; retryAt = 0; if (json(K.q, []).length) schedule(cfg.flushInterval); return; }
      backoff = Math.min(backoff ? backoff * 2 : 1000, 60000);
      var wait = Math.max.apply(null, failed.concat([backoff * (0.5 + Math.random() / 2)]));
      retryAt = Date.now() + wait;
      schedule(wait);
    });
  }

  // On page hide the page may be gone before a fetch resolves: beacons, all CORS-simple.
  function flushOnHide() {
    if (!allowed()) return;
    var q = json(K.q, []); if (!q.length) return;
    chunks(q).forEach(function (events) {
      var text = body(events), ok = false;
      if (nav.sendBeacon) { try { ok = nav.sendBeacon(cfg.host + "/v1/batch", new Blob([text], { type: "text/plain" })); } catch (e) { ok = false; } }
      if (!ok) { try { fetch(cfg.host + "/v1/batch", { method: "POST", keepalive: true, body: text, headers: { "Content-Type": "text/plain" } }); } catch (e) { /* retried on the next page */ } return; }
      forget(events); del(K.drop);
    });
  }

  function autocapture(ev) {
    var el = ev.target && ev.target.closest ? ev.target.closest("[data-footfall-event],a,button") : null;
    if (!el) return;
    var props = { element: el.tagName.toLowerCase(), text: (el.textContent || "").trim().slice(0, 200) || undefined };
    if (el.href) props.href = el.href;
    var name = el.getAttribute("data-footfall-event");
    if (name) props.element = name;
    enqueue("click", props);
    if (el.href) flushOnHide();   // a link click is often the last thing a page does
  }

  var api = {
    init: function (writeKey, options) {
      cfg.writeKey = writeKey;
      for (var k in options || {}) cfg[k] = options[k];
      cfg.host = (cfg.host || defaultHost).replace(/\/$/, "");
      ready = true;
      if (cfg.autocapture) d.addEventListener("click", autocapture, true);
      d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flushOnHide(); });
      w.addEventListener("pagehide", flushOnHide);
      w.addEventListener("pageshow", function (e) { if (e.persisted) { retryAt = 0; flush(); } });
      w.addEventListener("online", function () { retryAt = 0; flush(); });
      flush();
    },
    page: function (properties) { return enqueue("page_view", properties || {}); },
    track: function (type, properties) { return enqueue(type, properties); },
    identify: function (customerId, traits) {
      set(K.cid, String(customerId));
      return enqueue("identify", { traits: traits || {} }, { customer_id: String(customerId) });
    },
    productView: function (p) { return enqueue("product_view", p); },
    cartAdd: function (p) { return enqueue("cart_add", p); },
    cartRemove: function (p) { return enqueue("cart_remove", p); },
    checkoutStarted: function (p) { return enqueue("checkout_started", p || {}); },
    orderPlaced: function (p) { return enqueue("order_placed", p); },
    review: function (p) { return enqueue("review", p); },
    consent: function (granted) { set(K.consent, granted ? "1" : "0"); if (granted) flush(); },
    reset: function () {   // logout: a new anonymous id, so two people on one device never merge
      flushOnHide();
      del(K.cid); del(K.ses); del(K.ft); del(K.aid); cookie(K.aid, "");
      anonymousId();
    },
    flush: flush,
    anonymousId: anonymousId,
    queued: function () { return json(K.q, []).length; }
  };

  // Replay calls made before the script loaded: the stub's queue and any it saved on a bounce.
  var stub = w.footfall, pending = [].concat(json(K.stub, []), (stub && stub.q) || []);
  del(K.stub);
  if (stub && stub.q) stub.q.length = 0;
  w.footfall = api;
  pending.forEach(function (call) { if (api[call[0]]) api[call[0]].apply(null, call[1]); });
})(window, document);
