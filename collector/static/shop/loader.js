/* The copy-paste loader: queues calls until footfall.js arrives (kept across a bounce). */
!function (w, d, src) {
  var f = w.footfall = w.footfall || { q: [] };
  ["init", "page", "track", "identify", "productView", "cartAdd", "cartRemove", "checkoutStarted",
    "orderPlaced", "review", "consent", "reset", "flush"].forEach(function (m) {
    f[m] = f[m] || function () { f.q.push([m, [].slice.call(arguments)]); };
  });
  w.addEventListener("pagehide", function () {
    if (f.q && f.q.length) try { localStorage.setItem("ff_stub", JSON.stringify(f.q)); } catch (e) { /* off */ }
  });
  var s = d.createElement("script"); s.async = true; s.src = src; d.head.appendChild(s);
}(window, document, "/v1/footfall.js");
footfall.init("demo-write-key", { autocapture: true, flushInterval: 1000 });
