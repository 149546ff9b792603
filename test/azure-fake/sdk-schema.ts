/**
 * The request-body schema of the fake ARM, read at test time from what @azure/arm-network ships: its
 * model declarations (.d.ts), generated from Microsoft's OpenAPI definitions for the same api-version.
 * Microsoft's spec files themselves are not vendored here (our rule: nothing fetched is committed, and
 * no package on the registries we reach ships them); the SDK carries the same facts:
 *
 *  - `XPropertiesFormat` interfaces are the wire `properties` objects, with their required members (no `?`)
 *    and read-only ones (`readonly`), exactly as in the spec;
 *  - `type X = string` with an `enum KnownX` is a spec enum (x-ms-enum, modelAsString);
 *  - a model `X` with an `XPropertiesFormat` is x-ms-client-flatten'ed: on the wire its
 *    PropertiesFormat members sit under `properties`, the rest (id, name, etag, zones, sku...) beside it.
 *
 * Numeric bounds and cross-references are not in the schema (nor are most of them in the spec): ARM's own
 * checks are hand-written in arm-rules.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';

type Kind =
  | { t: 'string' | 'number' | 'boolean' | 'any' }
  | { t: 'enum'; name: string; values: string[] }
  | { t: 'array'; of: Kind }
  | { t: 'map' }
  | { t: 'model'; name: string };

interface Member {
  kind: Kind;
  optional: boolean;
  readonly: boolean;
}

interface Model {
  members: Map<string, Member>;
}

export interface SchemaIssue {
  path: string;
  /** 'required' | 'type' | 'enum' | 'unknown' */
  problem: 'required' | 'type' | 'enum' | 'unknown';
  message: string;
}

/** Where the SDK's model declarations are, whatever copy of node_modules resolves it. */
function modelFiles(): string[] {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@azure/arm-network/package.json'));
  return ['common', 'network'].map((d) => join(pkg, 'dist', 'esm', 'models', d, 'models.d.ts'));
}

export class SdkSchema {
  private readonly models = new Map<string, { members: Map<string, ts.PropertySignature>; heritage: string[] }>();
  private readonly aliases = new Map<string, ts.TypeNode>();
  private readonly enums = new Map<string, string[]>();
  private readonly resolved = new Map<string, Model>();
  /** the SDK version the schema came from */
  readonly version: string;

  constructor(files: string[] = modelFiles()) {
    const require = createRequire(import.meta.url);
    this.version = (
      JSON.parse(readFileSync(require.resolve('@azure/arm-network/package.json'), 'utf8')) as { version: string }
    ).version;
    for (const file of files) {
      const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
      for (const st of sf.statements) {
        if (ts.isInterfaceDeclaration(st)) {
          const members = new Map<string, ts.PropertySignature>();
          for (const m of st.members)
            if (ts.isPropertySignature(m) && m.name && ts.isIdentifier(m.name)) members.set(m.name.text, m);
          const heritage = (st.heritageClauses ?? []).flatMap((h) => h.types.map((t) => t.expression.getText(sf)));
          this.models.set(st.name.text, { members, heritage });
        } else if (ts.isTypeAliasDeclaration(st)) {
          this.aliases.set(st.name.text, st.type);
        } else if (ts.isEnumDeclaration(st)) {
          this.enums.set(
            st.name.text,
            st.members.map((m) => (m.initializer && ts.isStringLiteral(m.initializer) ? m.initializer.text : '')),
          );
        }
      }
    }
  }

  has(model: string): boolean {
    return this.models.has(model);
  }

  private kindOf(node: ts.TypeNode): Kind {
    switch (node.kind) {
      case ts.SyntaxKind.StringKeyword:
        return { t: 'string' };
      case ts.SyntaxKind.NumberKeyword:
        return { t: 'number' };
      case ts.SyntaxKind.BooleanKeyword:
        return { t: 'boolean' };
    }
    if (ts.isArrayTypeNode(node)) return { t: 'array', of: this.kindOf(node.elementType) };
    if (ts.isTypeReferenceNode(node) && ts.isIdentifier(node.typeName)) {
      const name = node.typeName.text;
      if (name === 'Record') return { t: 'map' };
      if (name === 'Date') return { t: 'string' };
      if (this.models.has(name)) return { t: 'model', name };
      const known = this.enums.get(`Known${name}`);
      const alias = this.aliases.get(name);
      if (known && alias?.kind === ts.SyntaxKind.StringKeyword) return { t: 'enum', name, values: known };
      if (alias) return this.kindOf(alias);
    }
    if (ts.isUnionTypeNode(node)) {
      const literals = node.types
        .filter(ts.isLiteralTypeNode)
        .map((l) => (ts.isStringLiteral(l.literal) ? l.literal.text : ''));
      if (literals.length === node.types.length) return { t: 'enum', name: 'union', values: literals };
    }
    return { t: 'any' };
  }

  /** A model's members, inherited ones included (the SDK's view: flattened). */
  private flat(name: string): Map<string, Member> {
    const decl = this.models.get(name);
    const out = new Map<string, Member>();
    if (!decl) return out;
    for (const base of decl.heritage) for (const [k, v] of this.flat(base)) out.set(k, v);
    for (const [k, m] of decl.members)
      out.set(k, {
        kind: m.type ? this.kindOf(m.type) : { t: 'any' },
        optional: Boolean(m.questionToken),
        readonly: (m.modifiers ?? []).some((x) => x.kind === ts.SyntaxKind.ReadonlyKeyword),
      });
    return out;
  }

  /** The model as it travels on the wire: flattened members back under `properties`. */
  wire(name: string): Model {
    const cached = this.resolved.get(name);
    if (cached) return cached;
    const members = this.flat(name);
    const pf = `${name}PropertiesFormat`;
    if (!this.models.has(pf) || name.endsWith('PropertiesFormat')) {
      const model = { members };
      this.resolved.set(name, model);
      return model;
    }
    const inner = this.flat(pf);
    const outer = new Map([...members].filter(([k]) => !inner.has(k)));
    outer.set('properties', { kind: { t: 'model', name: pf }, optional: true, readonly: false });
    const model = { members: outer };
    this.resolved.set(name, model);
    return model;
  }

  /** Check a wire body against a model: what ARM's schema validation would refuse (and unknown members). */
  validate(body: unknown, model: string, path = ''): SchemaIssue[] {
    return this.check(body, { t: 'model', name: model }, path || model);
  }

  private check(value: unknown, kind: Kind, path: string): SchemaIssue[] {
    if (value === undefined || value === null) return [];
    const bad = (what: string): SchemaIssue[] => [
      { path, problem: 'type', message: `${path}: expected ${what}, got ${JSON.stringify(value)}` },
    ];
    switch (kind.t) {
      case 'any':
        return [];
      case 'string':
        return typeof value === 'string' ? [] : bad('a string');
      case 'number':
        return typeof value === 'number' && Number.isFinite(value) ? [] : bad('a number');
      case 'boolean':
        return typeof value === 'boolean' ? [] : bad('a boolean');
      case 'map':
        return typeof value === 'object' && !Array.isArray(value) ? [] : bad('an object');
      case 'enum':
        if (typeof value !== 'string') return bad('a string');
        return kind.values.some((v) => v.toLowerCase() === value.toLowerCase())
          ? []
          : [
              {
                path,
                problem: 'enum',
                message: `${path}: ${JSON.stringify(value)} is not one of ${kind.values.join(', ')}`,
              },
            ];
      case 'array':
        if (!Array.isArray(value)) return bad('an array');
        return value.flatMap((v, i) => this.check(v, kind.of, `${path}[${i}]`));
      case 'model': {
        if (typeof value !== 'object' || Array.isArray(value)) return bad('an object');
        const model = this.wire(kind.name);
        const issues: SchemaIssue[] = [];
        const obj = value as Record<string, unknown>;
        for (const [k, m] of model.members) {
          if (!m.optional && !m.readonly && obj[k] === undefined)
            issues.push({ path: `${path}.${k}`, problem: 'required', message: `${path}.${k} is required` });
        }
        for (const [k, v] of Object.entries(obj)) {
          const m = model.members.get(k);
          if (!m) {
            issues.push({
              path: `${path}.${k}`,
              problem: 'unknown',
              message: `${path}.${k} is not in the ${kind.name} definition`,
            });
            continue;
          }
          // read-only members in a request are ignored by ARM, as the spec says
          if (!m.readonly) issues.push(...this.check(v, m.kind, `${path}.${k}`));
        }
        return issues;
      }
    }
  }
}
