/*
 * Touchline browser snippet: forwards the booking widget's tag-manager pushes to the ingest API.
 *
 *   <script>
 *     window.TouchlineConfig = {
 *       endpoint: "https://ingest.example.com",  // the ingest API (CORS is open to any origin)
 *       key: "pk_studio_1",                       // a write key bound to this account
 *       accountId: "studio-1"                     // optional when the key is bound to an account
 *     };
 *   </script>
 *   <script src="/touchline.js" async></script>
 *
 * It wraps window.dataLayer.push and, for every push whose `event` is a booking-widget event
 * (appointment_booking*, event_booking), posts the push to POST /v1/sources/booking-widget with:
 * a fresh touchline_event_id (the idempotency key: a retry resends it), occurred_at, the `_ga`
 * cookie (client id), the page URL, user agent, and the landing page, referrer, UTM tags and ad
 * click ids of the visit (captured on the landing page and kept in sessionStorage, so they survive
 * navigation inside the site). Pushes made before the snippet loaded are forwarded too.
 *
 * Transport: fetch with keepalive (survives the page unloading after the booking's last step).
 * navigator.sendBeacon cannot carry the write-key header or an application/json body without a
 * preflight, so it is not used. One retry after Retry-After (at most 10 s) on 429/503/network
 * error; the API deduplicates nothing itself, the pipeline deduplicates by event id downstream.
 */
(function (w, d) {
  "use strict";
  var cfg = w.TouchlineConfig || {};
  if (!cfg.endpoint || w.__touchline) return;
  w.__touchline = true;
  var URL_ = cfg.endpoint.replace(/\/+$/, "") + "/v1/sources/booking-widget";
  var STORE = "touchline_landing";
  var CAMPAIGN = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                  "gclid", "fbclid", "yclid", "msclkid"];
  var PASS = ["event", "appointments", "events", "conversion_id"];

  function landing() {
    try {
      var kept = JSON.parse(w.sessionStorage.getItem(STORE) || "null");
      if (kept) return kept;
    } catch (e) { /* storage disabled: fall through */ }
    var visit = { landing_page: w.location.href, referrer: d.referrer || null };
    var query = new URLSearchParams(w.location.search);
    for (var i = 0; i < CAMPAIGN.length; i++) {
      var value = query.get(CAMPAIGN[i]);
      if (value) visit[CAMPAIGN[i]] = value;
    }
    try { w.sessionStorage.setItem(STORE, JSON.stringify(visit)); } catch (e) { /* ignore */ }
    return visit;
  }

  function gaCookie() {
    var match = d.cookie.match(/(?:^|;\s*)_ga=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function uuid4() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = new Uint8Array(16);
    w.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function isBooking(push) {
    return !!push && typeof push.event === "string" &&
      (push.event.indexOf("appointment_booking") === 0 || push.event === "event_booking");
  }

  function post(body, retried) {
    var headers = { "Content-Type": "application/json" };
    if (cfg.key) headers["X-Touchline-Key"] = cfg.key;
    function again(seconds) {
      if (!retried) w.setTimeout(function () { post(body, true); }, Math.min(seconds, 10) * 1000);
    }
    w.fetch(URL_, {
      method: "POST", body: body, headers: headers, keepalive: true,
      mode: "cors", credentials: "omit"
    }).then(function (resp) {
      if (resp.status === 429 || resp.status === 503) {
        again(parseInt(resp.headers.get("Retry-After") || "2", 10) || 2);
      }
    }, function () { again(2); });
  }

  function forward(push) {
    var event = { touchline_event_id: uuid4(), occurred_at: Date.now(),
                  page_url: w.location.href, user_agent: w.navigator.userAgent };
    for (var i = 0; i < PASS.length; i++) {
      if (push[PASS[i]] !== undefined) event[PASS[i]] = push[PASS[i]];
    }
    var visit = landing();
    for (var k in visit) if (visit[k] != null) event[k] = visit[k];
    var ga = gaCookie();
    if (ga) event._ga = ga;
    if (cfg.accountId) event.account_id = cfg.accountId;
    post(JSON.stringify(event), false);
  }

  function safely(push) {
    try { if (isBooking(push)) forward(push); } catch (e) { /* never break the page */ }
  }

  landing();  // capture the campaign on the landing page even before any booking push
  var layer = (w.dataLayer = w.dataLayer || []);
  for (var i = 0; i < layer.length; i++) safely(layer[i]);
  var original = layer.push;
  layer.push = function () {
    for (var j = 0; j < arguments.length; j++) safely(arguments[j]);
    return original.apply(layer, arguments);
  };
})(window, document);
