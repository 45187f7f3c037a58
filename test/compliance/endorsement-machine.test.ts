import { describe, expect, it } from 'vitest';
import {
  INITIAL_STATUS,
  legalTargets,
  targetOf,
  transition,
  transitionTo,
  TRANSITION_CAUSES,
  TRIGGERS,
  type Trigger,
} from '../../src/compliance/endorsement-machine.js';
import { ENDORSEMENT_STATUSES, type EndorsementStatus } from '../../src/domain/endorsements.js';

/**
 * Spec 3.3 as an explicit table. Every (status, trigger) cell is written out: a cell left
 * out is a move that must be refused. Nothing below is derived from the machine's own EDGES.
 */

const STATUSES: EndorsementStatus[] = ['INACTIVE', 'PENDING', 'ISSUES', 'ACTIVE', 'REJECTED', 'REVOKED_ISSUES', 'OFFBOARDED'];
const ALL_TRIGGERS: Trigger[] = ['dataComplete', 'prerequisiteLost', 'checksPassed', 'issuesFound', 'approved', 'rejected', 'offboarded'];

const EXPECTED: Record<EndorsementStatus, Partial<Record<Trigger, EndorsementStatus>>> = {
  // requested, requirements missing; the data becomes complete → checks start
  INACTIVE: { dataComplete: 'PENDING', offboarded: 'OFFBOARDED' },
  // checks running or awaiting an operator
  PENDING: {
    prerequisiteLost: 'INACTIVE',
    checksPassed: 'ACTIVE',
    issuesFound: 'ISSUES',
    approved: 'ACTIVE',
    rejected: 'REJECTED',
    offboarded: 'OFFBOARDED',
  },
  // fixable: a PATCH that fixes it → PENDING; an operator may still grant or refuse
  ISSUES: { dataComplete: 'PENDING', approved: 'ACTIVE', rejected: 'REJECTED', offboarded: 'OFFBOARDED' },
  // granted; a re-evaluation that finds issues revokes it
  ACTIVE: { issuesFound: 'REVOKED_ISSUES', offboarded: 'OFFBOARDED' },
  // final refusal for this endorsement; only the customer's offboarding moves it
  REJECTED: { offboarded: 'OFFBOARDED' },
  // "fixable like ISSUES"
  REVOKED_ISSUES: { dataComplete: 'PENDING', approved: 'ACTIVE', rejected: 'REJECTED', offboarded: 'OFFBOARDED' },
  // terminal
  OFFBOARDED: {},
};

/** The same table by destination only, read straight off the bullets of spec 3.3. */
const EXPECTED_TARGETS: Record<EndorsementStatus, EndorsementStatus[]> = {
  INACTIVE: ['PENDING', 'OFFBOARDED'],
  PENDING: ['ACTIVE', 'ISSUES', 'REJECTED', 'INACTIVE', 'OFFBOARDED'],
  ISSUES: ['PENDING', 'ACTIVE', 'REJECTED', 'OFFBOARDED'],
  ACTIVE: ['REVOKED_ISSUES', 'OFFBOARDED'],
  REJECTED: ['OFFBOARDED'],
  REVOKED_ISSUES: ['PENDING', 'ACTIVE', 'REJECTED', 'OFFBOARDED'],
  OFFBOARDED: [],
};

describe('the vocabulary', () => {
  it('the statuses are the seven of spec 3.1', () => {
    expect([...ENDORSEMENT_STATUSES].sort()).toEqual([...STATUSES].sort());
  });

  it('the triggers are the ones this table covers (a new trigger must be added here)', () => {
    expect([...TRIGGERS].sort()).toEqual([...ALL_TRIGGERS].sort());
  });

  it('every endorsement is born INACTIVE', () => {
    expect(INITIAL_STATUS).toBe('INACTIVE');
  });

  it('the two tables of this file agree with each other', () => {
    for (const from of STATUSES) {
      expect(new Set(Object.values(EXPECTED[from]))).toEqual(new Set(EXPECTED_TARGETS[from]));
    }
  });
});

describe('status × trigger', () => {
  const cells = STATUSES.flatMap((from) => ALL_TRIGGERS.map((trigger) => ({ from, trigger, to: EXPECTED[from][trigger] })));

  it(`covers all ${STATUSES.length} × ${ALL_TRIGGERS.length} cells`, () => {
    expect(cells).toHaveLength(49);
  });

  it.each(cells)('$from --$trigger--> $to', ({ from, trigger, to }) => {
    expect(targetOf(from, trigger)).toBe(to);
    for (const cause of TRANSITION_CAUSES) {
      const move = transition(from, trigger, cause);
      if (to === undefined) expect(move).toBeUndefined();
      else expect(move).toEqual({ from, to, trigger, cause });
    }
  });
});

describe('legalTargets', () => {
  it.each(STATUSES)('%s', (from) => {
    const targets = legalTargets(from);
    expect([...targets].sort()).toEqual([...EXPECTED_TARGETS[from]].sort());
    expect(new Set(targets).size).toBe(targets.length);
  });

  it('OFFBOARDED has no legal targets', () => {
    expect(legalTargets('OFFBOARDED')).toEqual([]);
  });

  it('every status but OFFBOARDED can be offboarded', () => {
    for (const from of STATUSES) expect(legalTargets(from).includes('OFFBOARDED')).toBe(from !== 'OFFBOARDED');
  });

  it('REJECTED leads only to OFFBOARDED', () => {
    expect(legalTargets('REJECTED')).toEqual(['OFFBOARDED']);
  });

  it('no status moves to itself', () => {
    for (const from of STATUSES) expect(legalTargets(from)).not.toContain(from);
  });

  it('only PENDING falls back to INACTIVE (a prerequisite was lost)', () => {
    expect(STATUSES.filter((from) => legalTargets(from).includes('INACTIVE'))).toEqual(['PENDING']);
  });

  it('ACTIVE is reached only from PENDING, ISSUES and REVOKED_ISSUES; REVOKED_ISSUES only from ACTIVE', () => {
    expect(STATUSES.filter((from) => legalTargets(from).includes('ACTIVE')).sort()).toEqual(['ISSUES', 'PENDING', 'REVOKED_ISSUES']);
    expect(STATUSES.filter((from) => legalTargets(from).includes('REVOKED_ISSUES'))).toEqual(['ACTIVE']);
  });

  it('every status is reachable from the initial one', () => {
    const seen = new Set<EndorsementStatus>([INITIAL_STATUS]);
    const queue: EndorsementStatus[] = [INITIAL_STATUS];
    for (let from = queue.shift(); from !== undefined; from = queue.shift()) {
      for (const to of legalTargets(from)) {
        if (!seen.has(to)) {
          seen.add(to);
          queue.push(to);
        }
      }
    }
    expect([...seen].sort()).toEqual([...STATUSES].sort());
  });
});

describe('transitionTo', () => {
  const pairs = STATUSES.flatMap((from) => STATUSES.map((to) => ({ from, to, legal: EXPECTED_TARGETS[from].includes(to) })));

  it(`covers all ${STATUSES.length} × ${STATUSES.length} pairs`, () => {
    expect(pairs).toHaveLength(49);
  });

  it.each(pairs)('$from → $to legal: $legal', ({ from, to, legal }) => {
    expect(legalTargets(from).includes(to)).toBe(legal);
    for (const cause of TRANSITION_CAUSES) {
      const move = transitionTo(from, to, cause);
      if (!legal) {
        expect(move).toBeUndefined();
        continue;
      }
      expect(move).toBeDefined();
      expect(move).toMatchObject({ from, to, cause });
      // the trigger it names is one that makes exactly this move
      const trigger = move!.trigger;
      expect(EXPECTED[from][trigger]).toBe(to);
      expect(transition(from, trigger, cause)).toEqual(move);
    }
  });

  it('nothing leaves OFFBOARDED', () => {
    for (const to of STATUSES) expect(transitionTo('OFFBOARDED', to, 'operator')).toBeUndefined();
    for (const trigger of ALL_TRIGGERS) expect(transition('OFFBOARDED', trigger, 'operator')).toBeUndefined();
  });
});
