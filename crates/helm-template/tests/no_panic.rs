//! Parsing and rendering never panic: arbitrary text, and text assembled from template
//! fragments (which reaches far deeper into the parser and evaluator than random bytes).

use aicr_helm_template::{Chart, has_objects, parse, render};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const CHART: Chart<'static> = Chart {
    component: "c",
    namespace: "ns",
    chart_name: "chart",
    chart_version: "1.0.0",
};

fn values() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "a": {"b": [1, 2.5, null, "x"]}, "n": null, "s": "", "t": true, "i": -3,
        "big": 18446744073709551615u64, "f": 1e300,
    }) else {
        unreachable!()
    };
    map
}

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    " -}}",
    "{{/*",
    "*/}}",
    " ",
    "\n",
    "text",
    "if",
    "else",
    "end",
    "range",
    "with",
    "$x",
    "$",
    ":=",
    "=",
    ",",
    "|",
    "(",
    ")",
    ".",
    ".Values",
    ".c",
    ".a.b",
    ".n.x",
    "\"c\"",
    "`r`",
    "\"",
    "1",
    "-1",
    "2.5",
    "0x",
    "1e999",
    "true",
    "nil",
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "index",
    "default",
    "toString",
    "toYaml",
    "nindent",
    "quote",
    "printf",
    "'",
    "{{ $x := index .Values \"c\" }}",
    "{{ end }}",
    "{{ else }}",
    "$i, $v :=",
    "---",
    "#",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        let _ = parse(&src);
        let _ = render(&src, &CHART, &values());
        let _ = has_objects(&src);
    }

    #[test]
    fn template_fragments_never_panic(parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40)) {
        let src = parts.concat();
        if let Ok(t) = parse(&src) {
            let _ = t.render(&CHART, &values());
            let _ = t.render(&CHART, &Map::new());
        }
    }
}
