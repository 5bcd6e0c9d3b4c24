// Message lookup for the console's two languages, with fallbacks: the chosen language,
// then English, then the key itself (so a missing text shows up as its key, not blank).

import { messages, type MessageKey } from "./messages";

export const LANGUAGES = ["zh-CN", "en"] as const;
export type Language = (typeof LANGUAGES)[number];
export const FALLBACK_LANGUAGE: Language = "en";

export type Params = Record<string, string | number>;
export type Dictionary = Partial<Record<string, string>>;
export type Catalog = Record<Language, Dictionary>;

/** `{name}` placeholders filled from params; unknown placeholders stay as written. */
export function interpolate(template: string, params?: Params): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** The text of `key` in `language`, falling back to English, then to the key. */
export function lookup(catalog: Catalog, language: Language, key: string, params?: Params): string {
  const text = catalog[language][key] ?? catalog[FALLBACK_LANGUAGE][key] ?? key;
  return interpolate(text, params);
}

/** A language tag from the list the console has, or null (`zh`, `zh-Hans-CN` → zh-CN). */
export function matchLanguage(tag: string | null | undefined): Language | null {
  if (!tag) return null;
  const lower = tag.toLowerCase();
  if (lower === "zh" || lower.startsWith("zh-")) {
    // Traditional-script Chinese readers still read the zh-CN texts better than English.
    return "zh-CN";
  }
  if (lower === "en" || lower.startsWith("en-")) return "en";
  return null;
}

/**
 * The language to start in: the one the user chose before, else the first of the
 * browser's preferred languages that the console has, else English.
 */
export function initialLanguage(saved: string | null, preferred: readonly string[]): Language {
  const chosen = matchLanguage(saved);
  if (chosen) return chosen;
  for (const tag of preferred) {
    const match = matchLanguage(tag);
    if (match) return match;
  }
  return FALLBACK_LANGUAGE;
}

export type Translate = (key: MessageKey | string, params?: Params) => string;

/** A translate function for one language over the console's messages. */
export function translator(language: Language, catalog: Catalog = messages): Translate {
  return (key, params) => lookup(catalog, language, key, params);
}
