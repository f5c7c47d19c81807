import GRDB
import SyncCore

/// Reading the origin app's loosely typed columns (floats, datetimes as text) into exact values.
enum Values {
    /// An amount from a FLOAT/NUMERIC/TEXT column; nil for NULL; throws for anything unreadable.
    static func amount(_ value: DatabaseValue, table: String, id: Int64, column: String) throws -> Amount? {
        switch value.storage {
        case .null: return nil
        case .int64(let i): return Amount(i)
        case .double(let d):
            if let a = Amount(d) { return a }
        case .string(let s):
            if let a = Amount(s) { return a }
        case .blob: break
        }
        throw StoreError.invalidValue(table: table, id: id, column: column, value: value.description)
    }

    /// A time from a DATETIME column (SQLAlchemy text, or epoch seconds/ms); NULL reads as 0.
    static func millis(_ value: DatabaseValue, table: String, id: Int64, column: String) throws -> Millis {
        switch value.storage {
        case .null: return 0
        case .int64(let i): return i < 100_000_000_000 ? i * 1000 : i
        case .double(let d): return d < 100_000_000_000 ? Millis(d * 1000) : Millis(d)
        case .string(let s):
            if let ms = UTC.parse(s) { return ms }
        case .blob: break
        }
        throw StoreError.invalidValue(table: table, id: id, column: column, value: value.description)
    }
}
