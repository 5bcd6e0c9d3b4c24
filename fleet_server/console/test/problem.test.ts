import { describe, expect, it } from "vitest";
import { ApiError, fieldErrorsFor, normaliseFieldPath, parseProblem } from "../src/api/problem";

describe("problem+json", () => {
  it("parses the server's validation problem into dotted field paths", () => {
    // As fleet_server/errors.py answers a bad patrol body.
    const problem = parseProblem(422, {
      type: "urn:fleet:problem:validation-error",
      title: "Unprocessable Entity",
      status: 422,
      detail: "invalid request: patrol.checkpoints[0].waypoint, patrol.rounds",
      request_id: "abc",
      errors: [
        { field: "patrol.checkpoints[0].waypoint", in: "body", message: "String should have at least 1 character", type: "string_too_short" },
        { field: "patrol.rounds", in: "body", message: "rounds must be a whole number", type: "rounds" },
      ],
    });
    expect(problem.requestId).toBe("abc");
    expect(problem.errors).toEqual([
      { field: "checkpoints.0.waypoint", message: "String should have at least 1 character" },
      { field: "rounds", message: "rounds must be a whole number" },
    ]);
  });

  it("keeps compiler paths and single-part fields", () => {
    expect(normaliseFieldPath("checkpoints.2.waypoint")).toBe("checkpoints.2.waypoint");
    expect(normaliseFieldPath("site")).toBe("site");
    expect(normaliseFieldPath("body.guidance.from")).toBe("from");
    // A field literally named like a kind is not stripped when it stands alone.
    expect(normaliseFieldPath("patrol")).toBe("patrol");
  });

  it("tolerates bodies that are not problems", () => {
    const problem = parseProblem(502, "Bad gateway");
    expect(problem.title).toBe("HTTP 502");
    expect(problem.errors).toEqual([]);
    expect(new ApiError(problem).message).toBe("HTTP 502");
  });

  it("groups errors under the most specific field the form shows", () => {
    const grouped = fieldErrorsFor(
      [
        { field: "checkpoints.1.waypoint", message: "no waypoint X" },
        { field: "checkpoints", message: "too many" },
        { field: "rounds", message: "bad" },
        { field: "deadline", message: "not shown" },
      ],
      ["checkpoints", "checkpoints.1", "rounds"],
    );
    expect(grouped.get("checkpoints.1")).toEqual(["no waypoint X"]);
    expect(grouped.get("checkpoints")).toEqual(["too many"]);
    expect(grouped.get("rounds")).toEqual(["bad"]);
    expect(grouped.get("")).toEqual(["not shown"]);
  });
});
