import { expect } from "chai";

/**
 * |actual - expected| <= tolerance for floating-point numbers. Hardhat's chai matchers replace chai's `closeTo`
 * with a BigInt-only version once the contract tests have loaded them, so float tests use this instead.
 */
export function expectClose(actual: number, expected: number, tolerance: number, what = "value"): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} is not within ${tolerance} of ${expected}`).to.be.at.most(tolerance);
}
