/**
 * Statistical disclosure control for the commissioners' reports (issue 10): no published figure may
 * reveal a group of 1 to 7 people, directly or by arithmetic on what else is published.
 *
 * The rule, after the practice of OpenSAFELY, the trusted research environment for NHS England's GP
 * records, whose disclosure control suppresses "small numbers (less than or equal to seven)" before
 * anything leaves it (its "Updated disclosure control guidance", as applied to ehrQL's measures:
 * https://github.com/opensafely-core/ehrql/pull/1746); stricter than the 1-5 of NHS Digital's former
 * rule for Hospital Episode Statistics (https://digital.nhs.uk/data-and-information/data-tools-and-services/data-services/hospital-episode-statistics/change-to-disclosure-control-methodology-for-hes-and-ecds-from-september-2018).
 * OpenSAFELY also rounds to the nearest 5; the issue asks for exact counts otherwise, so this does not.
 * - primary: a count from 1 to 7 is suppressed; 0 is published (nobody is revealed by it);
 * - derived: a figure computed from the records of fewer than 8 people (a mean, an interval, a share,
 *   a median) is suppressed, whatever its own value;
 * - secondary: the strata of one stratifier partition the group's total, so a lone suppressed stratum
 *   could be recomputed as the total less the others. Within a partition whose total is published, the
 *   suppressed strata must therefore number at least two and hold at least 8 people between them: the
 *   smallest published non-zero strata are suppressed too until they do, and when no stratum is left
 *   to suppress, the total is suppressed as well.
 */

/** The largest count that is never published. */
export const SMALL_NUMBER_MAX = 7;
/** The fewest people a derived figure may rest on. */
export const FEWEST_PEOPLE = SMALL_NUMBER_MAX + 1;

/** A published figure, or null where it is suppressed. */
export type Published = number | null;

export const isSmall = (count: number) => count >= 1 && count <= SMALL_NUMBER_MAX;

/** A count as published: suppressed when 1 to 7. */
export function publishCount(count: number): Published {
  return isSmall(count) ? null : count;
}

/** A figure derived from `people` people: suppressed when they are fewer than 8. */
export function publishDerived(people: number, value: number): Published {
  return people < FEWEST_PEOPLE ? null : value;
}

/**
 * A total and the counts of the strata that partition it, as published: primary suppression of each,
 * then secondary suppression within the partition so that no suppressed stratum can be recomputed
 * from the total and the rest, and no set of them reveals fewer than 8 people together.
 */
export function publishPartition(total: number, strata: readonly number[]): { total: Published; strata: Published[] } {
  const sum = strata.reduce((a, b) => a + b, 0);
  if (sum !== total) throw new Error(`the strata (${sum}) do not partition the total (${total})`);
  if (isSmall(total)) return { total: null, strata: strata.map((c) => (c === 0 ? 0 : null)) };
  const hidden = strata.map(isSmall);
  const exposed = () => {
    const indices = hidden.flatMap((h, i) => (h ? [i] : []));
    const people = indices.reduce((a, i) => a + strata[i]!, 0);
    return indices.length > 0 && (indices.length < 2 || people < FEWEST_PEOPLE);
  };
  while (exposed()) {
    // The smallest stratum still published that holds anyone: hiding a zero hides nobody.
    let next = -1;
    strata.forEach((c, i) => {
      if (!hidden[i] && c > 0 && (next < 0 || c < strata[next]!)) next = i;
    });
    if (next < 0) return { total: null, strata: strata.map((c, i) => (hidden[i] ? null : c)) };
    hidden[next] = true;
  }
  return { total, strata: strata.map((c, i) => (hidden[i] ? null : c)) };
}
