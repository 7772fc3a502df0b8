import { AteError, Code } from "../../errors/index.ts";

/** meta/v1 LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/**
 * Whether labels satisfy a selector, with Kubernetes semantics: requirements are ANDed; an
 * empty selector matches everything, and so does a missing one (the caller decides whether
 * "nil" means everything, as it does for ate's workerSelector).
 */
export function matchesSelector(
  selector: LabelSelector | undefined,
  labels: Record<string, string> = {},
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    const values = req.values ?? [];
    switch (req.operator) {
      case "In":
        if (!has || !values.includes(value as string)) return false;
        break;
      case "NotIn":
        if (has && values.includes(value as string)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        throw new AteError(
          Code.InvalidArgument,
          `label selector operator "${req.operator}" for key "${req.key}" is not supported: use In, NotIn, Exists or DoesNotExist`,
        );
    }
  }
  return true;
}

/**
 * Parses kubectl's selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`,
 * `!a`, comma-separated and ANDed.
 */
export function parseSelector(text: string): LabelSelector {
  const selector: Required<LabelSelector> = { matchLabels: {}, matchExpressions: [] };
  for (const part of splitTopLevel(text)) {
    const term = part.trim();
    if (term === "") continue;
    const parsed = termParsers.find(([re]) => re.test(term));
    if (!parsed) {
      throw new AteError(
        Code.InvalidArgument,
        `unable to parse label selector term "${term}": use key=value, key!=value, key in (a,b), key or !key`,
      );
    }
    const [re, add] = parsed;
    add(selector, term.match(re)?.slice(1) ?? []);
  }
  return selector;
}

const key = "([^\\s!=(),]+)";
type TermParser = [RegExp, (sel: Required<LabelSelector>, groups: string[]) => void];
const termParsers: TermParser[] = [
  [
    new RegExp(`^${key}\\s+(in|notin)\\s+\\(([^)]*)\\)$`),
    (sel, [k = "", op, list = ""]) => {
      const values = list
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
      sel.matchExpressions.push({ key: k, operator: op === "in" ? "In" : "NotIn", values });
    },
  ],
  [
    new RegExp(`^${key}\\s*!=\\s*([^\\s!=(),]*)$`),
    (sel, [k = "", v = ""]) =>
      sel.matchExpressions.push({ key: k, operator: "NotIn", values: [v] }),
  ],
  [
    new RegExp(`^${key}\\s*==?\\s*([^\\s!=(),]*)$`),
    (sel, [k = "", v = ""]) => {
      sel.matchLabels[k] = v;
    },
  ],
  [
    new RegExp(`^!\\s*${key}$`),
    (sel, [k = ""]) => sel.matchExpressions.push({ key: k, operator: "DoesNotExist" }),
  ],
  [
    new RegExp(`^${key}$`),
    (sel, [k = ""]) => sel.matchExpressions.push({ key: k, operator: "Exists" }),
  ],
];

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}
