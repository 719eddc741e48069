import { describe, expect, it } from 'vitest';
import { mayMove, moveRefusal, REASON_REQUIRED, TASK_STATUSES, type TaskStatus } from '../../src/workflow/task-states.js';

/**
 * Every (from, to) pair of the R4 Task statuses against DESIGN.md "Link-worker workflow": requested →
 * accepted | rejected | cancelled; accepted → in-progress | on-hold | cancelled | completed | failed;
 * in-progress → on-hold | completed | failed | cancelled; on-hold → in-progress | cancelled; any →
 * entered-in-error; staying put is allowed but for entered-in-error, which is final. Written out as a
 * table so that it is read against the design, not derived from the module under test.
 */
const TABLE = `
from \\ to         draft requested received accepted rejected ready cancelled in-progress on-hold failed completed entered-in-error
draft              y     .         .        .        .        .     .         .           .       .      .         y
requested          .     y         .        y        y        .     y         .           .       .      .         y
received           .     .         y        .        .        .     .         .           .       .      .         y
accepted           .     .         .        y        .        .     y         y           y       y      y         y
rejected           .     .         .        .        y        .     .         .           .       .      .         y
ready              .     .         .        .        .        y     .         .           .       .      .         y
cancelled          .     .         .        .        .        .     y         .           .       .      .         y
in-progress        .     .         .        .        .        .     y         y           y       y      y         y
on-hold            .     .         .        .        .        .     y         y           y       .      .         y
failed             .     .         .        .        .        .     .         .           .       y      .         y
completed          .     .         .        .        .        .     .         .           .       .      y         y
entered-in-error   .     .         .        .        .        .     .         .           .       .      .         .
`;

const lines = TABLE.trim().split('\n').map((l) => l.trim().split(/\s+/));
const columns = lines[0]!.slice(3) as TaskStatus[]; // after "from \ to"
const cases = lines.slice(1).flatMap(([from, ...marks]) =>
  marks.map((m, i) => ({ from: from as TaskStatus, to: columns[i]!, allowed: m === 'y' })));

describe('Task state machine', () => {
  it('the table covers every pair of R4 Task statuses', () => {
    expect(columns).toEqual(TASK_STATUSES);
    expect(lines.slice(1).map((l) => l[0])).toEqual(TASK_STATUSES);
    expect(cases).toHaveLength(TASK_STATUSES.length ** 2);
  });

  it.each(cases.map((c) => [`${c.from} → ${c.to}: ${c.allowed ? 'allowed' : 'refused'}`, c] as const))('%s', (_name, c) => {
    expect(mayMove(c.from, c.to)).toBe(c.allowed);
    const refusal = moveRefusal(c.from, c.to, true);
    if (c.allowed) expect(refusal).toBeUndefined();
    else expect(refusal).toMatch(c.from === 'entered-in-error' ? /cannot change any more/ : new RegExp(`cannot go from ${c.from} to ${c.to}`));
  });

  it.each(cases.filter((c) => c.allowed && c.from !== c.to).map((c) => [`${c.from} → ${c.to}`, c] as const))('%s without a statusReason', (_name, c) => {
    const refusal = moveRefusal(c.from, c.to, false);
    if (REASON_REQUIRED.includes(c.to)) expect(refusal).toBe(`A Task going to ${c.to} must say why in statusReason`);
    else expect(refusal).toBeUndefined();
  });

  it('needs a reason for exactly rejected, cancelled, on-hold and failed', () => {
    expect([...REASON_REQUIRED].sort()).toEqual(['cancelled', 'failed', 'on-hold', 'rejected']);
  });

  it('a reason already given need not be given again to stay in a status (on-hold → on-hold)', () => {
    expect(moveRefusal('on-hold', 'on-hold', false)).toBeUndefined();
  });
});
