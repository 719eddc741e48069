/**
 * HTML and SVG for the reports' pages, built from strings safely: every value put into markup is
 * escaped unless it is itself markup made here. Codes, ODS codes and error messages that reach a page
 * can carry what a client sent, so nothing is ever concatenated in unescaped.
 */

/** Markup made by `html`: put into other markup as it is. */
export class Html {
  constructor(readonly markup: string) {}
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as it is safe in an element's content and in a quoted attribute value, of HTML and of SVG. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** What may be interpolated: markup, text (escaped), numbers, lists of these, and nothing (false, null, undefined). */
export type Interpolated = Html | string | number | false | null | undefined | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === false || value === null || value === undefined) return '';
  if (value instanceof Html) return value.markup;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** A template of markup: html`<p>${text}</p>` escapes `text`, and passes markup made by html as it is. */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => { out += render(v) + strings[i + 1]!; });
  return new Html(out);
}
