// BinanceSimulator — a Binance-compatible exchange (spot `/api/v3` and USDⓈ-M futures `/fapi/v1`,
// including the futures Algo service) as a library and an HTTP server, for ordersync's tests, demo
// and benchmarks. A program written for the real REST API works against it with only the base URL
// changed.
//
// Invariants kept here:
// - Security as the real exchange: `X-MBX-APIKEY`, HMAC-SHA256 over the raw query string followed
//   by the raw body as received (the `signature` pair removed, hex compared case-insensitively and
//   in constant time), `timestamp`/`recvWindow` rules; errors with the real HTTP status and
//   `{"code","msg"}` body.
// - Every order ever placed is kept with its final state (the "truth"), readable in-process and on
//   the unsigned control API under `/_sim/`.
// - Every call to an account- or symbol-wide cancel is counted, so tests can prove ordersync
//   never makes one.
// - Faults happen only when configured; with faults off no request gets a 5xx.
// - Time is an input: the exchange reads an injected clock.
//
// The simulator never imports ordersync's client, nor the client the simulator.
