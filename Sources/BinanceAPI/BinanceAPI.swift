// BinanceAPI — ordersync's only way to the exchange: signed REST calls to Binance spot
// (`/api/v3`) and USDⓈ-M futures (`/fapi/v1`, with the Algo service for conditional orders).
//
// Invariants kept here:
// - The only cancels it can send name orders: one order, or a batch of named orders. There is no
//   function for `DELETE openOrders` / `allOpenOrders` / `algoOpenOrders`.
// - Never guess an outcome: a cancel answered with 5xx, -1007, 503 "Unknown error", a dropped
//   connection or an unreadable body is resolved by querying the order; a -2011 is followed by a
//   query, and the answer is the order's real final state or "not found".
// - Reads are retried (bounded, backoff with jitter); writes are never blindly repeated.
// - Request weight is planned per host (the exchange counts per IP) against a budget, learned from
//   `exchangeInfo` and `X-MBX-USED-WEIGHT-*`; 429 pauses the host for `Retry-After`, 418 stops it
//   until the ban ends.
// - The signature covers the exact bytes sent; timestamps come from a server-time offset.
// - No secret, signature or signed URL in any error, log or metric.
