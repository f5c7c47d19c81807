import Foundation
import Scenarios
import SyncCore
import Testing

@Suite struct ScenarioTests {
    static func parse(_ json: String) -> ScenarioError? {
        do {
            _ = try Scenario.parse(Data(json.utf8), file: "t.json")
            return nil
        } catch { return error }
    }

    static let base = #""accounts": [], "strategies": [], "strategy_accounts": []"#

    @Test func duplicatesAmongOptionalKeysNameTheItemsOwnIndex() throws {
        // users[1] has no token; the duplicate is users[2], not "[1]" of the tokens present.
        let error = try #require(
            Self.parse(
                #"{"users": [{"id": 1, "username": "a", "webhook_token": "t"}, {"id": 2, "username": "b"}, {"id": 3, "username": "c", "webhook_token": "t"}], "#
                    + Self.base + "}"
            )
        )
        #expect(error.description == "t.json: users[2].webhook_token: duplicate webhook_token (first at [0])")
        #expect(!error.description.contains("\"t\""))
    }

    @Test func missingAndMistypedKeysAreNamed() throws {
        #expect(Self.parse(#"{"users": [{"id": 1}], "# + Self.base + "}")?.description == "t.json: users[0]: missing key \"username\"")
        #expect(
            Self.parse(#"{"users": [{"id": "one", "username": "a"}], "# + Self.base + "}")?.description == "t.json: users[0].id: expected an integer"
        )
        #expect(Self.parse(#"{"users": [], "# + Self.base + #", "extra": 1}"#)?.description.hasPrefix("t.json: extra: unknown key") == true)
        #expect(Self.parse(#"{"users": [], "# + Self.base + "}") == nil)
    }
}
