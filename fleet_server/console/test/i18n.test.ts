import { describe, expect, it } from "vitest";
import { initialLanguage, interpolate, lookup, matchLanguage, translator, type Catalog } from "../src/i18n/i18n";
import { messages } from "../src/i18n/messages";

describe("i18n", () => {
  const catalog: Catalog = {
    en: { hello: "Hello {name}", only_en: "English only" },
    "zh-CN": { hello: "你好 {name}" },
  };

  it("looks up in the chosen language, then English, then shows the key", () => {
    expect(lookup(catalog, "zh-CN", "hello", { name: "王" })).toBe("你好 王");
    expect(lookup(catalog, "zh-CN", "only_en")).toBe("English only");
    expect(lookup(catalog, "en", "missing.key")).toBe("missing.key");
  });

  it("leaves unknown placeholders as written", () => {
    expect(interpolate("{a} and {b}", { a: 1 })).toBe("1 and {b}");
  });

  it("defaults to zh-CN when the browser prefers Chinese, English otherwise", () => {
    expect(initialLanguage(null, ["zh-CN", "en"])).toBe("zh-CN");
    expect(initialLanguage(null, ["zh-Hans-CN"])).toBe("zh-CN");
    expect(initialLanguage(null, ["zh-TW"])).toBe("zh-CN");
    expect(initialLanguage(null, ["fr-FR", "en-GB"])).toBe("en");
    expect(initialLanguage(null, ["de"])).toBe("en");
    expect(initialLanguage("en", ["zh-CN"])).toBe("en");
    expect(initialLanguage("garbage", ["zh"])).toBe("zh-CN");
    expect(matchLanguage("EN-us")).toBe("en");
  });

  it("has every English text in Chinese too", () => {
    const missing = Object.keys(messages.en).filter((k) => messages["zh-CN"][k] === undefined);
    // A few keys are language-neutral (symbols, the RRULE name).
    expect(missing.sort()).toEqual(["common.none"]);
  });

  it("translates with the console's catalog", () => {
    expect(translator("zh-CN")("nav.missions")).toBe("任务");
    expect(translator("en")("nav.missions")).toBe("Missions");
  });
});
