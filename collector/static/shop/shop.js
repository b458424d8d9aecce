/* The demo storefront: catalogue, cart (localStorage) and pages. Tracking goes through footfall only. */
(function () {
  "use strict";
  var ART = { tech: "TECH", fashion: "FASHION", home: "HOME", beauty: "BEAUTY" };
  var COLORS = { budget: "#e7f0e1", mid: "#e3ecf7", premium: "#f3e6d8" };
  var CATALOGUE = [
    ["te-b0", "Voltic Earbuds", "tech", "Voltic", "budget", "19.90"],
    ["te-b1", "Nimbus Cable Kit", "tech", "Nimbus", "budget", "12.50"],
    ["te-m0", "Aurora Speaker", "tech", "Aurora", "mid", "89.00"],
    ["te-m1", "Voltic Keyboard", "tech", "Voltic", "mid", "74.90"],
    ["te-p0", "Aurora Studio Headphones", "tech", "Aurora", "premium", "349.00"],
    ["te-p1", "Nimbus 4K Monitor", "tech", "Nimbus", "premium", "629.00"],
    ["fa-b0", "Basalt Tee", "fashion", "Basalt", "budget", "14.90"],
    ["fa-m0", "Thread & Co Denim", "fashion", "Thread & Co", "mid", "79.00"],
    ["fa-p0", "Maison Lune Coat", "fashion", "Maison Lune", "premium", "480.00"],
    ["ho-b0", "Hearthly Mug Set", "home", "Hearthly", "budget", "18.00"],
    ["ho-m0", "Oakroom Lamp", "home", "Oakroom", "mid", "64.00"],
    ["ho-p0", "Nordlys Armchair", "home", "Nordlys", "premium", "890.00"],
    ["be-b0", "Petal Hand Cream", "beauty", "Petal", "budget", "8.90"],
    ["be-m0", "Lumen Serum", "beauty", "Lumen", "mid", "42.00"],
    ["be-p0", "Verde Ritual Set", "beauty", "Verde", "premium", "165.00"]
  ].map(function (r) { return { product_id: r[0], name: r[1], category: r[2], brand: r[3], tier: r[4], price: r[5] }; });

  function $(sel) { return document.querySelector(sel); }
  function find(id) { return CATALOGUE.filter(function (p) { return p.product_id === id; })[0]; }
  function cart() { try { return JSON.parse(localStorage.getItem("shop_cart")) || []; } catch (e) { return []; } }
  function saveCart(items) { localStorage.setItem("shop_cart", JSON.stringify(items)); badge(); }
  function money(x) { return "€" + Number(x).toFixed(2); }
  function props(p, qty) {
    var o = { product_id: p.product_id, name: p.name, category: p.category, brand: p.brand, price: p.price, currency: "EUR" };
    if (qty) o.quantity = qty;
    return o;
  }
  function lines() {
    return cart().map(function (l) { var p = find(l.id); return { product_id: p.product_id, name: p.name, category: p.category, brand: p.brand, price: p.price, quantity: l.qty }; });
  }
  function subtotal() { return lines().reduce(function (s, l) { return s + Number(l.price) * l.quantity; }, 0); }
  function badge() { var b = $("#cart-count"); if (b) b.textContent = cart().reduce(function (s, l) { return s + l.qty; }, 0); }
  function card(p) {
    return '<div class="card"><div class="art" style="background:' + COLORS[p.tier] + '">' + ART[p.category] + '</div>' +
      '<span class="tier">' + p.category + " · " + p.tier + '</span><a href="product.html?id=' + p.product_id + '">' + p.name + '</a>' +
      '<span class="price">' + money(p.price) + '</span></div>';
  }

  function addToCart(p) {
    var items = cart(), line = items.filter(function (l) { return l.id === p.product_id; })[0];
    if (line) line.qty += 1; else items.push({ id: p.product_id, qty: 1 });
    saveCart(items);
    footfall.cartAdd(props(p, 1));
  }

  var pages = {
    catalogue: function () {
      var params = new URLSearchParams(location.search), current = params.get("category");
      footfall.page(current ? { category: current } : {});
      var cats = ["all", "tech", "fashion", "home", "beauty"];
      $("#filters").innerHTML = cats.map(function (c) {
        return '<button data-cat="' + c + '" class="' + ((current || "all") === c ? "on" : "") + '">' + c + "</button>";
      }).join("");
      $("#filters").onclick = function (e) {
        var c = e.target.getAttribute("data-cat"); if (!c) return;
        location.search = c === "all" ? "" : "?category=" + c;
      };
      var q = params.get("q");
      var shown = CATALOGUE.filter(function (p) {
        return (!current || p.category === current) && (!q || p.name.toLowerCase().indexOf(q.toLowerCase()) >= 0);
      });
      if (q) footfall.track("search", { query: q, results: shown.length });
      $("#grid").innerHTML = shown.map(card).join("");
    },
    product: function () {
      var p = find(new URLSearchParams(location.search).get("id")) || CATALOGUE[0];
      document.title = p.name + " · Larch & Lantern";
      footfall.page({ category: p.category });
      footfall.productView(props(p));
      $("#product").innerHTML = '<div class="art" style="background:' + COLORS[p.tier] + '">' + ART[p.category] + '</div><div>' +
        '<span class="tier">' + p.brand + " · " + p.category + " · " + p.tier + '</span><h1>' + p.name + '</h1>' +
        '<p class="price">' + money(p.price) + '</p><p>Free returns within 30 days. Ships in 2–3 days.</p>' +
        '<button class="btn" id="add">Add to cart</button> <a class="btn secondary" href="cart.html">View cart</a></div>';
      $("#add").onclick = function () { addToCart(p); $("#add").textContent = "Added ✓"; };
    },
    cart: function () {
      footfall.page();
      var rows = lines();
      $("#lines").innerHTML = rows.length ? rows.map(function (l) {
        return "<tr><td>" + l.name + "</td><td>" + l.quantity + "</td><td>" + money(l.price * l.quantity) +
          '</td><td><button class="btn secondary" data-remove="' + l.product_id + '">Remove</button></td></tr>';
      }).join("") : '<tr><td colspan="4">Your cart is empty.</td></tr>';
      $("#subtotal").textContent = money(subtotal());
      $("#lines").onclick = function (e) {
        var id = e.target.getAttribute("data-remove"); if (!id) return;
        var items = cart(), line = items.filter(function (l) { return l.id === id; })[0];
        saveCart(items.filter(function (l) { return l.id !== id; }));
        footfall.cartRemove(props(find(id), line ? line.qty : 1));
        pages.cart();
      };
    },
    checkout: function () {
      footfall.page();
      var items = lines();
      footfall.checkoutStarted({ items: items, value: subtotal().toFixed(2), currency: "EUR" });
      $("#summary").textContent = items.length + " item(s), " + money(subtotal());
      $("#checkout").onsubmit = function (e) {
        e.preventDefault();
        var coupon = $("#coupon").value.trim().toUpperCase(), sub = subtotal();
        var discount = coupon ? Math.round(sub * 10) / 100 : 0, shipping = sub < 50 ? 4.9 : 0;
        var order = { order_id: "web-" + Date.now().toString(36), items: lines(), subtotal: sub.toFixed(2),
          discount: discount.toFixed(2), shipping: shipping.toFixed(2), total: (sub - discount + shipping).toFixed(2),
          currency: "EUR", payment_method: $("#payment").value };
        if (coupon) order.coupon = coupon;
        footfall.orderPlaced(order);
        saveCart([]);
        location.href = "index.html?ordered=" + order.order_id;
      };
    },
    login: function () {
      footfall.page();
      $("#login").onsubmit = function (e) {
        e.preventDefault();
        var email = $("#email").value.trim();
        localStorage.setItem("shop_user", email);
        footfall.identify(email, { email: email });
        location.href = "index.html";
      };
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var user = localStorage.getItem("shop_user"), who = $("#who");
    if (who) who.innerHTML = user ? user + ' · <a href="#" id="logout">log out</a>' : '<a href="login.html">log in</a>';
    var out = $("#logout");
    if (out) out.onclick = function (e) { e.preventDefault(); localStorage.removeItem("shop_user"); footfall.reset(); location.reload(); };
    var ordered = new URLSearchParams(location.search).get("ordered");
    if (ordered && $("#notice")) $("#notice").innerHTML = '<div class="notice">Thank you! Order ' + ordered + " is confirmed.</div>";
    badge();
    pages[document.body.getAttribute("data-page")]();
  });
})();
