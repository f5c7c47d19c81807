import BinanceAPI
import SyncCore

/// The exchange port over the Binance client: one session for production URLs and one for
/// testnet URLs (`accounts.is_testnet`), credentials resolved per account (Fernet, env overrides).
public struct BinanceGateway: ExchangeGateway {
    let main: BinanceSession
    let testnet: BinanceSession
    let environment: [String: String]

    public init(main: BinanceSession, testnet: BinanceSession, environment: [String: String]) {
        self.main = main
        self.testnet = testnet
        self.environment = environment
    }

    public func supports(_ account: AccountRecord) -> Bool { account.exchange == "BINANCE" }

    func client(_ account: AccountRecord) throws(BinanceError) -> AccountClient {
        (account.isTestnet ? testnet : main).account(try Credentials.resolve(account, environment: environment))
    }

    public func listing(_ account: AccountRecord, market: Market, symbol: String?) async -> ExchangeListing {
        do {
            return try await client(account).openOrders(market, symbol: symbol)
        } catch {
            return .failed(error.description)
        }
    }

    public func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult {
        do {
            return .found(try await client(account).order(market, symbol: symbol, .id(id)))
        } catch where error.kind == .notFound {
            return .notFound
        } catch {
            return .failed(reason: error.description)
        }
    }

    public func shutdown() async {
        await main.shutdown()
        await testnet.shutdown()
    }
}
