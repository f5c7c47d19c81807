// SyncCore — the pure decision core of ordersync.
//
// Purpose: everything ordersync *decides* lives here, as functions of their inputs: the model
// (typed ids, markets, statuses, exact amounts), the reconciliation decision (README § Architecture, "The core decides"),
// client-order-id tags and attribution, DB-scoped cancel selection and the drift report. (The
// scenario format of fixtures, the demo and benchmarks lives in the `Scenarios` target.)
//
// Invariants kept here:
// - No I/O, no clock reads, no logging, no randomness: `now` and every fact arrive as arguments,
//   so the same inputs always give the same plan.
// - The reconciliation plan type has no way to express a cancel (`PlanAction` has no such case).
// - A listing whose coverage is not `.complete` yields no action at all.
// - Attribution needs evidence naming a link on the same account and market: a tag, the origin
//   app's record of the order id, its unique placeholder row, or an operator claim. Nothing is ever
//   assigned to a "first" strategy; ambiguous or conflicting evidence adopts nothing.
// - Cancel selection returns only rows whose strategy link is in the requested scope.
//
// Imports: the standard library and FoundationEssentials (JSON coding) only.
