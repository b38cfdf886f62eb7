import Testing

@testable import Engine

@Suite struct SharedBudgetTests {
    @Test func oneMemberMayUseTheWholeLimit() {
        var budget = SharedBudget(limit: 40)
        for _ in 0..<40 { #expect(take(&budget, 1, for: 1)) }
        #expect(!take(&budget, 1, for: 1))
        budget.give(5, by: 1)
        #expect(budget.total == 35)
        #expect(take(&budget, 5, for: 1))
    }

    @Test func idleMembersReserveNothing() {
        var budget = SharedBudget(limit: 40)
        for member in 1...100 { budget.join(member) }
        // One busy member among a hundred idle ones may use the whole budget.
        #expect(take(&budget, 40, for: 1))
        #expect(budget.share(for: 1) == 40)
        #expect(budget.share(for: 2) == 20)
    }

    @Test func activeMembersCannotTakeEachOthersUnusedShare() {
        var budget = SharedBudget(limit: 40)
        #expect(take(&budget, 10, for: 1))
        #expect(take(&budget, 10, for: 2))
        // Both active: shares of 20. Member 1 may grow to its share, not into member 2's unused 10.
        #expect(take(&budget, 10, for: 1))
        #expect(!take(&budget, 1, for: 1))
        #expect(take(&budget, 10, for: 2))
        #expect(budget.total == 40)
    }

    @Test func aNewcomerGetsRoomAsTheOthersGiveBackTheirExcess() {
        var budget = SharedBudget(limit: 40)
        #expect(take(&budget, 36, for: 1))
        // A second member arrives: the budget has 4 left, and it holds nothing, so it may take them.
        #expect(take(&budget, 4, for: 2))
        #expect(!take(&budget, 1, for: 2))
        // Member 1 is 16 over its share; what it gives back goes to member 2, not to member 1 again.
        #expect(budget.excess(of: 1, sharingWith: 2) == 16)
        budget.give(16, by: 1)
        #expect(!take(&budget, 1, for: 1))
        #expect(take(&budget, 16, for: 2))
        #expect(budget.used(by: 1) == 20 && budget.used(by: 2) == 20)
    }

    @Test func aNewcomerHoldingNothingMayTakeOneItemLargerThanItsShare() {
        var budget = SharedBudget(limit: 40)
        #expect(take(&budget, 12, for: 2))
        #expect(take(&budget, 12, for: 3))
        // 16 is more than a share of three (13), but member 1 holds nothing: it gets one, then the budget is full.
        #expect(take(&budget, 16, for: 1))
        #expect(!take(&budget, 1, for: 1))
        // The excess it holds is what the others are owed.
        #expect(budget.excess(of: 1, sharingWith: 2) == 3)
    }

    @Test func leavingFreesEverythingTheMemberHeld() {
        var budget = SharedBudget(limit: 10)
        #expect(take(&budget, 6, for: 1))
        #expect(take(&budget, 4, for: 2))
        budget.leave(1)
        #expect(budget.total == 4)
        #expect(budget.memberCount == 1)
        #expect(take(&budget, 6, for: 2))
        // Giving back for a member that left changes nothing.
        budget.give(6, by: 1)
        #expect(budget.total == 10)
    }

    @Test func roomIsTheMostAllowed() {
        var budget = SharedBudget(limit: 40)
        func check(_ member: Int) {
            let room = budget.room(for: member)
            #expect(room == 0 || budget.allows(room, for: member))
            #expect(!budget.allows(room + 1, for: member))
        }
        for member in 1...3 { check(member) }
        #expect(take(&budget, 30, for: 1))
        #expect(budget.room(for: 1) == 10)
        for member in 1...3 { check(member) }
        budget.join(2)
        #expect(take(&budget, 5, for: 2))
        for member in 1...3 { check(member) }
        #expect(budget.room(for: 1) == 0)
        #expect(budget.room(for: 2) == 5)
    }

    @Test func chargedBytesCountEvenOverTheLimitAndCloseTheBudget() {
        var budget = SharedBudget(limit: 10)
        budget.charge(12, to: 1)
        #expect(!budget.allows(1, for: 1))
        #expect(!budget.allows(1, for: 2))
        budget.give(12, by: 1)
        #expect(budget.allows(1, for: 1))
    }
}

/// `budget.take(amount, for: member)` outside the `#expect` macro (which cannot call a mutating method).
private func take(_ budget: inout SharedBudget, _ amount: Int, for member: Int) -> Bool {
    budget.take(amount, for: member)
}
