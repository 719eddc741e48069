/**
 * The few statistics the commissioners' reports need (issue 10), pure and exact for the sizes at hand:
 * a mean with its 95% confidence interval from Student's t, and a median.
 */

/**
 * Two-sided 95% critical values of Student's t (upper 2.5% point) by degrees of freedom, from the
 * NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.2 "Critical Values of the Student's t
 * Distribution" (https://www.itl.nist.gov/div898/handbook/eda/section3/eda3672.htm), column 0.975.
 */
const T_975: readonly [number, number][] = [
  [1, 12.706], [2, 4.303], [3, 3.182], [4, 2.776], [5, 2.571], [6, 2.447], [7, 2.365], [8, 2.306], [9, 2.262], [10, 2.228],
  [11, 2.201], [12, 2.179], [13, 2.160], [14, 2.145], [15, 2.131], [16, 2.120], [17, 2.110], [18, 2.101], [19, 2.093], [20, 2.086],
  [21, 2.080], [22, 2.074], [23, 2.069], [24, 2.064], [25, 2.060], [26, 2.056], [27, 2.052], [28, 2.048], [29, 2.045], [30, 2.042],
  [40, 2.021], [50, 2.009], [60, 2.000], [80, 1.990], [100, 1.984],
];
/** The normal distribution's 97.5% point, t's limit as the degrees of freedom grow. */
const Z_975 = 1.960;

/**
 * t's 97.5% point for `df` degrees of freedom. Between the table's rows it takes the row below (fewer
 * degrees of freedom, a slightly larger value), so an interval is never narrower than it should be;
 * beyond 1,000 the normal's (t at 1,000 is 1.962).
 */
export function tCritical(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`degrees of freedom must be a positive integer, not ${df}`);
  if (df > 1000) return Z_975;
  let value = T_975[0]![1];
  for (const [d, t] of T_975) if (d <= df) value = t;
  return value;
}

export interface MeanWithInterval {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator). */
  sd: number;
  low: number;
  high: number;
}

/** Mean, sample standard deviation and the 95% confidence interval of the mean (t on n - 1 df). Needs n ≥ 2. */
export function meanWithInterval(values: ArrayLike<number>): MeanWithInterval {
  const n = values.length;
  if (n < 2) throw new Error('a confidence interval needs at least two values');
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  // Two passes, not a running sum of squares: exact enough whatever the scores' offset.
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i]! - mean) ** 2;
  const sd = Math.sqrt(squares / (n - 1));
  const half = tCritical(n - 1) * (sd / Math.sqrt(n));
  return { n, mean, sd, low: mean - half, high: mean + half };
}

/** The median: the middle value, or the mean of the middle two. Undefined for no values. */
export function median(values: ArrayLike<number>): number | undefined {
  if (values.length === 0) return undefined;
  // A typed array sorts numerically, natively: a report's 100,000 values in milliseconds.
  const sorted = Float64Array.from(values).sort();
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
