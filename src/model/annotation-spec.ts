/**
 * The shape of an annotation table row. Every annotation the project reads is declared once in a table
 * of these (src/model/annotations.ts for the provider-neutral ones, providers/<name>/annotations.ts for a
 * provider's own); the parser reads values through the table and the README table is generated from it
 * (`npm run docs:readme`).
 */
export interface AnnotationSpec {
  /** the full annotation key */
  key: string;
  /** which provider reads it: 'all' for the controller and model */
  provider: 'all' | 'local' | 'aws' | 'azure';
  /** a short type description: 'string', 'bool', 'int (seconds)', 'comma list of IPs', ... */
  type: string;
  /** the default as a user would write it, or '' when there is none */
  default: string;
  /** where the default comes from when it follows an anchor (e.g. 'cloud-provider-aws') */
  defaultSource?: string;
  description: string;
}
