// The typed unnest layout: column lists, parameter numbers and values come from one spec, in one order.
import { describe, expect, it } from "vitest";
import { columnsFor, unnestLayout } from "../../src/db/unnest.js";

interface Person {
  id: string;
  age: number;
}
interface Tag {
  personId: string;
  tag: string;
}

const layout = unnestLayout({
  people: columnsFor<Person>({ id: ["text", (p) => p.id], age: ["int", (p) => p.age] }),
  tags: columnsFor<Tag>({ person_id: ["text", (t) => t.personId], tag: ["text", (t) => t.tag.toUpperCase()] }),
});

describe("unnestLayout", () => {
  it("numbers every kind's columns in turn, from $1", () => {
    expect(layout.unnest("people")).toBe("unnest($1::text[], $2::int[])");
    expect(layout.unnest("tags")).toBe("unnest($3::text[], $4::text[])");
    expect(layout.names("tags")).toBe("person_id, tag");
    expect(layout.param("tags", "tag")).toBe("$4::text[]");
  });

  it("gives the values column by column in the same order, each from its own getter", () => {
    const values = layout.values({
      people: [
        { id: "a", age: 1 },
        { id: "b", age: 2 },
      ],
      tags: [{ personId: "a", tag: "x" }],
    });
    expect(values).toEqual([["a", "b"], [1, 2], ["a"], ["X"]]);
  });

  it("refuses a column it does not have", () => {
    expect(() => layout.param("people", "name" as "id")).toThrow(/no column name in people/);
  });
});
