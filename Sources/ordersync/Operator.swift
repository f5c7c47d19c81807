import ArgumentParser
import Foundation
import OrderStore
import OrderSyncApp
import SyncCore

/// Options of the operator commands: the database, and the configuration whose claims count too.
struct OperatorOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (its [[attribution.claims]] and [database] url).", valueName: "file"))
    var config: String?
    @Option(name: .long, help: ArgumentHelp("SQLite file or postgresql:// URL (else [database] url, else DATABASE_URL).", valueName: "path|url"))
    var db: String?

    func load() throws(AppError) -> (database: String, config: OrdersyncConfig) {
        let environment = ProcessInfo.processInfo.environment
        let c = try OrdersyncConfig.load(path: config, environment: environment)
        return (try EntryPoints.databaseName(flag: db, config: c.database.url, environment: environment), c)
    }
}

struct ClaimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Record operator claims in the database (used from the next pass of reconcile and serve); without claims, list those in force.",
        discussion: """
            A claim says that orders without a row on ACCOUNT and SYMBOL (and SIDE) belong to strategy link LINK \
            (strategy_accounts.id), so a pass adopts them instead of reporting them as foreign. The link must be on \
            that account; at most one link claims an account and symbol (here, in the database, or in --config's file). \
            Several claims are recorded all or none.
            Exit status: 0 recorded (or listed); 1 refused, nothing recorded; 2 bad input or no connection.
            """
    )

    @OptionGroup var options: OperatorOptions
    @Option(help: "Output of the listing: text or json.")
    var format: OutputFormat = .text
    @Argument(help: ArgumentHelp("Claims to record.", valueName: "ACCOUNT:SYMBOL[:SIDE]=LINK"))
    var claims: [String] = []

    func validate() throws {
        for claim in claims where OperatorClaim(argument: claim) == nil {
            throw ValidationError("\(claim): expected ACCOUNT:SYMBOL[:SIDE]=LINK, e.g. 1:BTCUSDT:BUY=4")
        }
    }

    func run() async throws {
        do {
            let (database, config) = try options.load()
            let output = try await EntryPoints.claim(
                database: database,
                claims: claims.compactMap(OperatorClaim.init(argument:)),
                configured: config.attribution.claims,
                json: format == .json
            )
            if output.status == 0 { print(output.text) } else { printError(output.text) }
            if output.status != 0 { throw ExitCode(output.status) }
        } catch let error as AppError {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}

struct UnclaimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unclaim",
        abstract: "Remove operator claims from the database (every side unless SIDE is given).",
        discussion: """
            Claims in a configuration file are the file's to change. Orders a claim already adopted keep their rows.
            Exit status: 0 removed; 1 a target had no recorded claim; 2 bad input or no connection.
            """
    )

    @OptionGroup var options: OperatorOptions
    @Argument(help: ArgumentHelp("Claims to remove.", valueName: "ACCOUNT:SYMBOL[:SIDE]"))
    var targets: [String]

    func validate() throws {
        if targets.isEmpty { throw ValidationError("name at least one ACCOUNT:SYMBOL[:SIDE]") }
        for target in targets where ClaimTarget(argument: target) == nil {
            throw ValidationError("\(target): expected ACCOUNT:SYMBOL[:SIDE], e.g. 1:BTCUSDT or 1:BTCUSDT:SELL")
        }
    }

    func run() async throws {
        do {
            let (database, _) = try options.load()
            let output = try await EntryPoints.unclaim(database: database, targets: targets.compactMap(ClaimTarget.init(argument:)))
            print(output.text)
            if output.status != 0 { throw ExitCode(output.status) }
        } catch let error as AppError {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}

struct OrphansCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orphans",
        abstract: "List the orphan registry: open orders on the exchanges without a row that no evidence attributed. Read-only.",
        discussion: "Exit status: 0 listed (even none); 2 bad input or no connection."
    )

    @OptionGroup var options: OperatorOptions
    @Option(name: .customLong("account"), help: "Only this account id (repeatable).")
    var accounts: [Int64] = []
    @Option(help: "Only this exchange (binance, upbit, bithumb; any case).")
    var exchange: String?
    @Option(help: "Only this symbol, in any spelling (BTCUSDT, BTC/USDT, KRW-BTC).")
    var symbol: String?
    @Option(help: "Only this market: spot or futures.")
    var market: String?
    @Option(name: .customLong("min-seen"), help: "Only orphans seen by at least this many passes (default 1).")
    var minSeen: Int = 1
    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        guard accounts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--account takes positive account ids") }
        if let market, Market(stored: market) == nil { throw ValidationError("--market \(market): expected spot or futures") }
        if minSeen < 1 { throw ValidationError("--min-seen must be at least 1") }
        if let symbol, symbol.isEmpty { throw ValidationError("--symbol must not be empty") }
    }

    func run() async throws {
        do {
            let (database, _) = try options.load()
            let filter = OrphanFilter(
                accounts: accounts.isEmpty ? nil : Set(accounts.map(AccountID.init)),
                exchange: exchange,
                symbol: symbol,
                market: market.flatMap(Market.init(stored:)),
                minTimesSeen: minSeen
            )
            print(try await EntryPoints.orphans(database: database, filter: filter, json: format == .json))
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Passes and strategy-scoped cancels over a time range, with their findings, from the database. Read-only.",
        discussion: """
            Times are ISO 8601 in UTC (2026-12-01T00:00:00Z) or an age before now (30s, 90m, 24h, 7d). \
            Text shows each pass's totals (and its findings with --findings); JSON always has the findings.
            Exit status: 0 listed (even nothing); 2 bad input or no connection.
            """
    )

    @OptionGroup var options: OperatorOptions
    @Option(help: "From this time (default 24h).")
    var since = "24h"
    @Option(help: "Until this time (default now).")
    var until: String?
    @Option(name: .customLong("account"), help: "Only this account's findings and cancels.")
    var account: Int64?
    @Flag(help: "List each pass's findings in the text output.")
    var findings = false
    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        let now = EntryPoints.wallClock()
        guard let from = EntryPoints.historyTime(since, now: now) else {
            throw ValidationError("--since \(since): expected an ISO 8601 time or an age such as 24h")
        }
        if let until {
            guard let to = EntryPoints.historyTime(until, now: now) else {
                throw ValidationError("--until \(until): expected an ISO 8601 time or an age such as 1h")
            }
            if to <= from { throw ValidationError("--until \(until) is not after --since \(since)") }
        }
        if let account, account <= 0 { throw ValidationError("--account takes a positive account id") }
    }

    func run() async throws {
        do {
            let (database, _) = try options.load()
            let now = EntryPoints.wallClock()
            print(
                try await EntryPoints.history(
                    database: database,
                    since: EntryPoints.historyTime(since, now: now) ?? now,
                    until: until.flatMap { EntryPoints.historyTime($0, now: now) } ?? now + 1,
                    account: account.map(AccountID.init),
                    findings: findings,
                    json: format == .json
                )
            )
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}
