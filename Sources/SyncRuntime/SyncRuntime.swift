// SyncRuntime — the shell that runs decisions: reconciliation passes over the ports
// (`ReconcileStore`, `ExchangeGateway`), one account at a time per account, accounts in parallel.
//
// Invariants kept here:
// - One writer per account: every read-decide-write of an account runs under its lock (shared
//   with the canceller), so passes and cancels never interleave on an account.
// - The reconciler never cancels: the gateway it is given has no cancel.
// - A failed or partial listing reaches the decision as such; the decision then changes nothing.
// - Every account is in the report: unsupported exchanges and failures included.
