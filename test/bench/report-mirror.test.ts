/** bench/report-mirror.ts: a standalone run replaces only its own section of the report, or appends it. */
import { describe, expect, it } from "vitest";
import { MIRROR_HEADING, withMirrorSection } from "../../bench/report-mirror.js";

describe("withMirrorSection", () => {
  it("replaces the section between its heading and the next one, leaving the rest as it was", () => {
    const report = `# Benchmarks\n\n## GC\n\nrows\n\n${MIRROR_HEADING}\n\nold rows\n\n## Machine\n\ncores\n`;
    expect(withMirrorSection(report, `${MIRROR_HEADING}\n\nnew rows\n`)).toBe(
      `# Benchmarks\n\n## GC\n\nrows\n\n${MIRROR_HEADING}\n\nnew rows\n\n## Machine\n\ncores\n`,
    );
  });

  it("replaces a last section to the end, and appends the section to a report without it", () => {
    expect(withMirrorSection(`# B\n\n${MIRROR_HEADING}\n\nold\n`, `${MIRROR_HEADING}\n\nnew`)).toBe(`# B\n\n${MIRROR_HEADING}\n\nnew\n`);
    expect(withMirrorSection("# B\n\n## GC\n\nrows\n", `${MIRROR_HEADING}\n\nnew`)).toBe(
      `# B\n\n## GC\n\nrows\n\n${MIRROR_HEADING}\n\nnew\n`,
    );
  });
});
