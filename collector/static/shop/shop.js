/* The demo storefront: catalogue, a cart kept in localStorage, and the page logic.
 * Every tracking call goes through the Footfall snippet (window.footfall). */
(function () {
  "use strict";
  var TIERS = ["budget", "mid", "premium"];
  var CATEGORIES = ["tech", "fashion", "home", "beauty"];
  var SHADES = { budget: "#e4efdc", mid: "#dfe8f4", premium: "#f2e3d3" };
  var CATALOGUE = [
    ["te-b0", "Voltic Earbuds", "tech", "Voltic", "budget", "19.90"],
    ["te-b1", "Nimbus Cable Kit", "tech", "Nimbus", "budget", "12.50"],
    ["te-m0", "Aurora Speaker", "tech", "Aurora", "mid", "89.00"],
    ["te-m1", "Voltic Keyboard", "tech", "Voltic", "mid", "74.90"],
    ["te-p0", "Aurora Studio Headphones", "tech", "Aurora", "premium", "349.00"],
    ["te-p1", "Nimbus 4K Monitor", "tech", "Nimbus", "premium", "629.00"],
    ["fa-b0", "Basalt Tee", "fashion", "Basalt", "budget", "14.90"],
    ["fa-b1", "Basalt Wool Socks", "fashion", "Basalt", "budget", "9.90"],
    ["fa-m0", "Thread & Co Denim", "fashion", "Thread & Co", "mid", "79.00"],
    ["fa-p0", "Maison Lune Coat", "fashion", "Maison Lune", "premium", "480.00"],
    ["ho-b0", "Hearthly Mug Set", "home", "Hearthly", "budget", "18.00"],
    ["ho-m0", "Oakroom Lamp", "home", "Oakroom", "mid", "64.00"],
    ["ho-m1", "Oakroom Linen Throw", "home", "Oakroom", "mid", "55.00"],
    ["ho-p0", "Nordlys Armchair", "home", "Nordlys", "premium", "890.00"],
    ["be-b0", "Petal Hand Cream", "beauty", "Petal", "budget", "8.90"],
    ["be-m0", "Lumen Serum", "beauty", "Lumen", "mid", "42.00"],
    ["be-p0", "Verde Ritual Set", "beauty", "Verde", "premium", "165.00"]
  ].map(function (r) {
    return { product_id: r[0], name: r[1], category: r[2], brand: r[3], tier: r[4], price: r[5] };
  });

  // ---------------------------------------------------------------- small helpers
  function $(sel) { return document.querySelector(sel); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function load(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function store(key, value) { localStorage.setItem(key, JSON.stringify(value)); }
  function money(x) { return "€" + Number(x).toFixed(2); }
  function find(id) { return CATALOGUE.filter(function (p) { return p.product_id === id; })[0]; }
  function params() { return new URLSearchParams(location.search); }
  function initials(name) { return name.split(" ").map(function (w) { return w[0]; }).join("").slice(0, 2); }
  function art(p, big) {
    return '<div class="art' + (big ? " big" : "") + '" style="background:' + SHADES[p.tier] + '">' +
      esc(initials(p.name)) + "</div>";
  }

  // ---------------------------------------------------------------- the cart (localStorage)
  function cart() {
    var c = load("shop_cart", null);
    if (!c || !c.lines) {
      c = { id: "cart-" + Math.random().toString(36).slice(2, 10), lines: [] };
      store("shop_cart", c);
    }
    return c;
  }
  function saveCart(c) { store("shop_cart", c); badge(); }
  function lines() {
    return cart().lines.map(function (l) {
      var p = find(l.id);
      return { product_id: p.product_id, name: p.name, category: p.category, brand: p.brand, price: p.price, quantity: l.qty };
    });
  }
  function subtotal() { return lines().reduce(function (s, l) { return s + Number(l.price) * l.quantity; }, 0); }
  function badge() {
    var n = cart().lines.reduce(function (s, l) { return s + l.qty; }, 0), b = $("#cart-count");
    if (b) b.textContent = n;
  }
  function productProps(p, qty) {
    var o = { product_id: p.product_id, name: p.name, category: p.category, brand: p.brand, price: p.price, currency: "EUR" };
    if (qty) { o.quantity = qty; o.cart_id = cart().id; }
    return o;
  }
  function changeQty(id, delta) {
    var c = cart(), line = c.lines.filter(function (l) { return l.id === id; })[0];
    if (!line) { line = { id: id, qty: 0 }; c.lines.push(line); }
    var removed = delta < 0 ? Math.min(-delta, line.qty) : 0;
    line.qty += delta > 0 ? delta : -removed;
    c.lines = c.lines.filter(function (l) { return l.qty > 0; });
    saveCart(c);
    if (delta > 0) footfall.cartAdd(productProps(find(id), delta));
    else if (removed) footfall.cartRemove(productProps(find(id), removed));
  }

  function card(p) {
    return '<div class="card">' + art(p) +
      '<span class="tag">' + esc(p.category) + " · " + esc(p.tier) + "</span>" +
      '<a href="product.html?id=' + encodeURIComponent(p.product_id) + '">' + esc(p.name) + "</a>" +
      '<span class="muted">' + esc(p.brand) + '</span><span class="price">' + money(p.price) + "</span></div>";
  }

  // An A/B test on the catalogue banner: the variant is kept per browser.
  function heroVariant() {
    var v = localStorage.getItem("shop_exp_hero");
    if (v !== "a" && v !== "b") { v = Math.random() < 0.5 ? "a" : "b"; localStorage.setItem("shop_exp_hero", v); }
    return v;
  }

  // ---------------------------------------------------------------- pages
  var pages = {
    catalogue: function () {
      var q = params(), category = q.get("category"), tier = q.get("tier"), search = (q.get("q") || "").trim();
      footfall.page(category ? { category: category } : {});

      var variant = heroVariant();
      footfall.track("experiment_exposure", { experiment: "hero-banner", variant: variant });
      $("#hero").innerHTML = variant === "a"
        ? "<h1>The autumn collection</h1><p>Free shipping on orders over €50.</p>"
        : "<h1>New season, new favourites</h1><p>10% off your first order with code <strong>SAVE10</strong>.</p>";

      function link(c, t, label, on) {
        var p = new URLSearchParams();
        if (c) p.set("category", c);
        if (t) p.set("tier", t);
        var qs = p.toString();
        return '<a class="chip' + (on ? " on" : "") + '" href="index.html' + (qs ? "?" + qs : "") + '">' + label + "</a>";
      }
      $("#filters").innerHTML =
        '<div class="row"><span class="muted">Category</span>' + link(null, tier, "All", !category) +
        CATEGORIES.map(function (c) { return link(c, tier, c, category === c); }).join("") + "</div>" +
        '<div class="row"><span class="muted">Price</span>' + link(category, null, "Any", !tier) +
        TIERS.map(function (t) { return link(category, t, t, tier === t); }).join("") + "</div>";

      var shown = CATALOGUE.filter(function (p) {
        return (!category || p.category === category) && (!tier || p.tier === tier) &&
          (!search || (p.name + " " + p.brand + " " + p.category).toLowerCase().indexOf(search.toLowerCase()) >= 0);
      });
      if (search) {
        footfall.track("search", { query: search.slice(0, 256), results: shown.length });
        $(".search input").value = search;
      }
      $("#result-count").textContent = (search ? "Results for “" + search + "”: " : "") + shown.length + " products";
      $("#grid").innerHTML = shown.length ? shown.map(card).join("") : '<p class="muted">Nothing matches. Try another search.</p>';

      var ordered = q.get("ordered");
      if (ordered) {
        $("#notice").innerHTML = '<div class="notice"><strong>Thank you!</strong> Order ' + esc(ordered) +
          ' is confirmed. <span id="feedback">How easy was checkout? ' +
          [1, 2, 3, 4, 5].map(function (n) { return '<button class="chip" data-score="' + n * 2 + '">' + n + "</button>"; }).join("") +
          "</span></div>";
        $("#feedback").onclick = function (e) {
          var score = e.target.getAttribute("data-score");
          if (!score) return;
          footfall.track("feedback", { score: Number(score), topic: "checkout" });
          $("#feedback").textContent = "Thanks for telling us.";
        };
      }
    },

    product: function () {
      var p = find(params().get("id")) || CATALOGUE[0];
      document.title = p.name + " · Larch & Lantern";
      footfall.page({ category: p.category });
      footfall.productView(productProps(p));
      $("#crumb-category").textContent = p.category;
      $("#crumb-category").href = "index.html?category=" + p.category;
      $("#product").innerHTML = art(p, true) + "<div>" +
        '<span class="tag">' + esc(p.brand) + " · " + esc(p.category) + " · " + esc(p.tier) + "</span>" +
        "<h1>" + esc(p.name) + '</h1><p class="price big">' + money(p.price) + "</p>" +
        "<p>Free returns within 30 days. Ships in 2–3 working days.</p>" +
        '<p class="actions"><button class="btn" id="add">Add to cart</button> ' +
        '<a class="btn secondary" href="cart.html">View cart</a></p></div>';
      $("#add").onclick = function () { changeQty(p.product_id, 1); $("#add").textContent = "Added ✓"; };

      function showReviews() {
        var mine = load("shop_reviews", {})[p.product_id] || [];
        $("#review-list").innerHTML = mine.length ? mine.map(function (r) {
          return '<div class="review"><span class="stars">' + "★★★★★".slice(0, r.rating) + "☆☆☆☆☆".slice(r.rating) +
            "</span> <strong>" + esc(r.title || "") + "</strong><p>" + esc(r.text || "") + "</p></div>";
        }).join("") : '<p class="muted">No reviews yet.</p>';
      }
      showReviews();
      $("#review").onsubmit = function (e) {
        e.preventDefault();
        var r = { product_id: p.product_id, rating: Number($("#rating").value) };
        var title = $("#review-title").value.trim(), text = $("#review-text").value.trim();
        if (title) r.title = title;
        if (text) r.text = text;
        footfall.review(r);
        var all = load("shop_reviews", {});
        (all[p.product_id] = all[p.product_id] || []).unshift(r);
        store("shop_reviews", all);
        $("#review").reset();
        showReviews();
      };
    },

    cart: function () {
      footfall.page();
      function render() {
        var rows = lines();
        $("#lines").innerHTML = rows.length ? rows.map(function (l) {
          var id = esc(l.product_id);
          return "<tr><td><a href=\"product.html?id=" + id + "\">" + esc(l.name) + "</a></td>" +
            '<td class="num"><button class="qty" data-less="' + id + '" aria-label="One less">−</button> ' + l.quantity +
            ' <button class="qty" data-more="' + id + '" aria-label="One more">+</button></td>' +
            '<td class="num">' + money(Number(l.price) * l.quantity) + "</td>" +
            '<td class="num"><button class="btn secondary small" data-remove="' + id + '">Remove</button></td></tr>';
        }).join("") : '<tr><td colspan="4" class="muted">Your cart is empty.</td></tr>';
        $("#subtotal").textContent = money(subtotal());
        $("#to-checkout").classList.toggle("disabled", !rows.length);
      }
      render();
      $("#lines").onclick = function (e) {
        var t = e.target, id;
        if ((id = t.getAttribute("data-more"))) changeQty(id, 1);
        else if ((id = t.getAttribute("data-less"))) changeQty(id, -1);
        else if ((id = t.getAttribute("data-remove"))) changeQty(id, -Infinity);
        else return;
        render();
      };
    },

    checkout: function () {
      footfall.page();
      var items = lines(), c = cart();
      if (!items.length) {
        $(".checkout").innerHTML = '<p class="muted">Your cart is empty. <a href="index.html">Browse the shop</a>.</p>';
        return;
      }
      footfall.checkoutStarted({ cart_id: c.id, items: items, value: subtotal().toFixed(2), currency: "EUR" });
      var coupon = localStorage.getItem("shop_coupon");
      if (coupon) $("#coupon").value = coupon;

      function totals() {
        var sub = subtotal(), code = $("#coupon").value.trim().toUpperCase();
        var discount = code === "SAVE10" ? Math.round(sub * 10) / 100 : 0, shipping = sub >= 50 ? 0 : 4.9;
        return { sub: sub, code: code, discount: discount, shipping: shipping, total: sub - discount + shipping };
      }
      function summary() {
        var t = totals();
        $("#summary").innerHTML = "<h3>Order summary</h3>" + items.map(function (l) {
          return '<p class="line"><span>' + l.quantity + " × " + esc(l.name) + "</span><span>" + money(Number(l.price) * l.quantity) + "</span></p>";
        }).join("") +
          '<p class="line"><span>Shipping</span><span>' + money(t.shipping) + "</span></p>" +
          (t.discount ? '<p class="line"><span>Discount (' + esc(t.code) + ")</span><span>−" + money(t.discount) + "</span></p>" : "") +
          '<p class="line total"><span>Total</span><span>' + money(t.total) + "</span></p>";
      }
      summary();
      $("#coupon").oninput = summary;
      $("#checkout").onsubmit = function (e) {
        e.preventDefault();
        var t = totals();
        var order = { order_id: "web-" + Date.now().toString(36), items: items, subtotal: t.sub.toFixed(2),
          discount: t.discount.toFixed(2), shipping: t.shipping.toFixed(2), total: t.total.toFixed(2),
          currency: "EUR", payment_method: $("#payment").value };
        if (t.code) order.coupon = t.code;
        footfall.orderPlaced(order);
        localStorage.removeItem("shop_cart");
        localStorage.removeItem("shop_coupon");
        location.href = "index.html?ordered=" + order.order_id;
      };
    },

    login: function () {
      footfall.page();
      $("#login").onsubmit = function (e) {
        e.preventDefault();
        var email = $("#email").value.trim().toLowerCase();
        localStorage.setItem("shop_user", email);
        footfall.identify(email, { email: email });
        location.href = "index.html";
      };
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var coupon = params().get("coupon");
    if (coupon) localStorage.setItem("shop_coupon", coupon.toUpperCase());
    var user = localStorage.getItem("shop_user"), who = $("#who");
    who.innerHTML = user ? esc(user) + ' · <a href="#" id="logout">Log out</a>' : '<a href="login.html">Log in</a>';
    if (user) {
      $("#logout").onclick = function (e) {
        e.preventDefault();
        localStorage.removeItem("shop_user");
        localStorage.removeItem("shop_cart");
        footfall.reset();   // the next person on this device starts as a new visitor
        location.href = "index.html";
      };
    }
    badge();
    pages[document.body.getAttribute("data-page")]();
  });
})();
