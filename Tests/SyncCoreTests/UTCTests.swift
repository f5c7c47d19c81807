import SyncCore
import Testing

@Suite struct UTCTests {
    @Test(arguments: [0, 1_764_077_906_123, 1_800_000_000_000, 951_782_400_000, -86_400_000 + 1])
    func formatsAndParsesBack(ms: Int64) {
        #expect(UTC.parse(UTC.sqlDateTime(ms)) == ms)
        #expect(UTC.parse(UTC.iso8601(ms)) == ms)
    }

    @Test func readsTheFormsTheOriginAppWrites() {
        #expect(UTC.iso8601(1_764_077_906_123) == "2025-11-25T13:38:26.123Z")
        #expect(UTC.parse("2025-11-25 13:38:26.123456") == 1_764_077_906_123)
        #expect(UTC.parse("2025-11-25 13:38:26.1") == 1_764_077_906_100)
        #expect(UTC.parse("2025-11-25 13:38:26") == 1_764_077_906_000)
        #expect(UTC.parse("2025-11-25T13:38:26Z") == 1_764_077_906_000)
        #expect(UTC.parse("2025-11-25") == 1_764_028_800_000)
        #expect(UTC.parse("2024-02-29 00:00:00") == 1_709_164_800_000)
        for bad in ["", "2025-13-01", "2025-11-25 25:00:00", "2025-11-25 13:38", "2025-11-25 13:38:26.", "2025-11-25 13:38:26+09:00", "yesterday"] {
            #expect(UTC.parse(bad) == nil, "\(bad)")
        }
    }
}
