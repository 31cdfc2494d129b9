//! One test per construct and per error. Expected outputs were checked against Go's
//! `text/template` with upstream's function map and data model.

use aicr_helm_template::{Chart, has_objects, parse, render};
use serde_json::{Map, Value, json};

const CHART: Chart<'static> = Chart {
    component: "c",
    namespace: "ns",
    chart_name: "chart",
    chart_version: "1.2.3",
};

fn values() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "a": {"b": 1},
        "s": "", "str": "hi", "z": 0, "i": 3, "t": true, "f": false, "n": null,
        "l": [], "m": {},
        "arr": [1, "x", {"k": "v"}],
        "flt": 1000000.0, "flt2": 0.00001, "flt3": 123456.0, "half": 0.5,
        "big": 1000000,
        "sel": {"role": "gpu", "zone": "a"},
        "tol": [{"key": "k", "operator": "Exists"}],
    }) else {
        unreachable!()
    };
    map
}

fn ok(src: &str) -> String {
    render(src, &CHART, &values()).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

fn err(src: &str) -> String {
    match render(src, &CHART, &values()) {
        Ok(out) => panic!("{src:?} rendered {out:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn text_passes_through() {
    assert_eq!(ok("plain: text\n"), "plain: text\n");
    assert_eq!(ok(""), "");
    assert_eq!(ok("a { b } c"), "a { b } c");
}

#[test]
fn trim_markers() {
    assert_eq!(ok("a  \n {{- 1 }}"), "a1");
    assert_eq!(ok("{{ 1 -}} \n\t b"), "1b");
    assert_eq!(ok("{{ 1 }}{{- 2 -}} 3"), "123");
    assert_eq!(ok("{{- if true -}}\n  a\n{{- end -}}\n"), "a");
    // Without the blank, the dash belongs to a number.
    assert_eq!(ok("x {{-3}}"), "x -3");
}

#[test]
fn comments() {
    assert_eq!(ok("{{- /* comment */ -}} x {{/* c2 */}} y"), "x  y");
    assert_eq!(ok("a\n{{- /* multi\nline */}}\nb"), "a\nb");
    assert!(err("{{ 1 }} {{/* x */ }}").contains("comment ends before closing delimiter"));
    assert!(err("{{/* never closed").contains("unclosed comment"));
}

#[test]
fn data_model() {
    assert_eq!(
        ok(
            "{{ .Release.Namespace }} {{ .Release.Service }} {{ .Chart.Name }}-{{ .Chart.Version }}"
        ),
        "ns Helm chart-1.2.3"
    );
    assert_eq!(ok(r#"{{ (index .Values "c").i }}"#), "3");
    assert_eq!(ok("{{ .Values.c.a.b }}"), "1");
    assert_eq!(ok("{{ $.Values.c.str }}"), "hi");
    assert!(
        err("{{ .Release.Name }}")
            .contains("can't evaluate field Name in type manifest.releaseData")
    );
    assert!(err("{{ .values }}").contains("can't evaluate field values"));
}

#[test]
fn missing_keys_and_nil() {
    assert_eq!(
        ok(r#"{{ $c := index .Values "c" }}{{ $c.missing }}|{{ $c.missing.foo }}"#),
        "<no value>|<no value>"
    );
    assert_eq!(ok("{{ .Values.c.missing.foo }}"), "<no value>");
    assert_eq!(
        ok(
            r#"{{ $c := index .Values "c" }}{{ index $c "missing" }}|{{ toString (index $c "missing") }}|{{ toString $c.missing }}|{{ $c.n }}|{{ toString $c.n }}"#
        ),
        "<no value>|<nil>|<nil>|<no value>|<nil>"
    );
    assert!(err("{{ .Values.c.n.x }}").contains("nil pointer evaluating interface {}.x"));
    assert!(err("{{ .Values.c.arr.x }}").contains("can't evaluate field x in type interface {}"));
    assert!(err("{{ .Values.c.a.b.c }}").contains("can't evaluate field c"));
}

#[test]
fn printing_follows_go_percent_v() {
    assert_eq!(
        ok(
            "{{ .Values.c.big }} {{ .Values.c.flt }} {{ .Values.c.flt2 }} {{ .Values.c.flt3 }} {{ .Values.c.half }}"
        ),
        "1000000 1e+06 1e-05 123456 0.5"
    );
    assert_eq!(
        ok("{{ .Values.c.arr }} {{ .Values.c.m }} {{ .Values.c.a }} {{ .Values.c.t }}"),
        "[1 x map[k:v]] map[] map[b:1] true"
    );
    assert_eq!(ok("{{ .Values.c.sel }}"), "map[role:gpu zone:a]");
    assert_eq!(
        ok(r#"{{ "a\tb" }} {{ `raw\n` }} {{ 0x10 }} {{ 1e3 }} {{ 1.5 }} {{ -2 }} {{ true }}"#),
        "a\tb raw\\n 16 1000 1.5 -2 true"
    );
    assert_eq!(ok("{{ .Release }}"), "{ns Helm}");
}

#[test]
fn variables_are_block_scoped() {
    assert_eq!(
        ok(
            "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}{{ if true }}{{ $x = 3 }}{{ end }}{{ $x }}"
        ),
        "213"
    );
    assert_eq!(
        ok("{{ $x := 1 }}{{ range $x := .Values.c.arr }}{{ end }}{{ $x }}"),
        "1"
    );
    assert!(
        err("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}").contains("undefined variable \"$y\"")
    );
    assert!(err("{{ $undefined }}").contains("undefined variable \"$undefined\""));
    assert!(err("{{ $z = 1 }}").contains("undefined variable \"$z\""));
    assert!(err("{{ $x := }}").contains("missing value for declaration"));
    assert!(err("{{ $a, $b := .Values.c.arr }}").contains("too many declarations"));
}

#[test]
fn if_else_chains() {
    let src = "{{ if .Values.c.z }}z{{ else if .Values.c.f }}f{{ else if .Values.c.t }}t{{ else }}e{{ end }}";
    assert_eq!(ok(src), "t");
    assert_eq!(ok("{{ if .Values.c.missing }}y{{ else }}n{{ end }}"), "n");
    assert_eq!(ok("{{ if $v := .Values.c.str }}{{ $v }}{{ end }}"), "hi");
    for falsy in ["z", "f", "n", "s", "l", "m", "missing"] {
        assert_eq!(
            ok(&format!(
                "{{{{ if .Values.c.{falsy} }}}}y{{{{ else }}}}n{{{{ end }}}}"
            )),
            "n",
            "{falsy}"
        );
    }
    for truthy in ["a", "i", "t", "str", "arr", "half"] {
        assert_eq!(
            ok(&format!("{{{{ if .Values.c.{truthy} }}}}y{{{{ end }}}}")),
            "y",
            "{truthy}"
        );
    }
}

#[test]
fn with_sets_dot() {
    assert_eq!(
        ok(
            "{{ with .Values.c.a }}{{ .b }}{{ end }}{{ with .Values.c.s }}no{{ else }}else{{ end }}"
        ),
        "1else"
    );
    assert_eq!(ok("{{ with $x := .Values.c.a }}{{ $x.b }}{{ end }}"), "1");
    assert_eq!(
        ok("{{ with .Values.c.s }}a{{ else with .Values.c.str }}{{ . }}{{ end }}"),
        "hi"
    );
}

#[test]
fn range_over_lists_and_maps() {
    assert_eq!(
        ok("{{ range $i, $v := .Values.c.arr }}[{{ $i }}={{ $v }}]{{ end }}"),
        "[0=1][1=x][2=map[k:v]]"
    );
    assert_eq!(ok("{{ range .Values.c.a }}<{{ . }}>{{ end }}"), "<1>");
    assert_eq!(
        ok("{{ range $k, $v := .Values.c.sel }}{{ $k }}={{ $v }};{{ end }}"),
        "role=gpu;zone=a;"
    );
    assert_eq!(
        ok("{{ range $v := .Values.c.sel }}{{ $v }}{{ end }}"),
        "gpua"
    );
    assert_eq!(
        ok(
            "{{ range .Values.c.l }}x{{ else }}empty{{ end }}{{ range .Values.c.missing }}x{{ end }}"
        ),
        "empty"
    );
    assert!(err("{{ range .Values.c.str }}{{ end }}").contains("range can't iterate over hi"));
}

#[test]
fn pipelines_and_parentheses() {
    assert_eq!(ok(r#"{{ .Values.c.a.b | toString | eq "1" }}"#), "true");
    assert_eq!(ok(r#"{{ ("x") }} {{ (index .Values "c").i }}"#), "x 3");
    assert_eq!(ok(r#"{{ .Values.c.missing | default "p" }}"#), "p");
    assert!(
        err("{{ 1 | toString 2 }}").contains("wrong number of args for toString: want 1 got 2")
    );
    assert!(err(r#"{{ "x" | 1 }}"#).contains("non executable command in pipeline stage 2"));
    assert!(err("{{ 1 2 }}").contains("can't give argument to non-function"));
    assert!(err("{{ nil }}").contains("nil is not a command"));
    assert!(err("{{ (1 }}").contains("unclosed left paren"));
    assert!(err("{{ 1) }}").contains("unexpected right paren"));
    assert!(err("{{ 1 | }}").contains("missing command after |"));
}

#[test]
fn logic_functions() {
    assert_eq!(
        ok(
            r#"{{ and 1 0 2 }} {{ or 0 "" "x" }} {{ or 0 "" }} {{ not .Values.c.l }} {{ not .Values.c.a }}"#
        ),
        "0 x  true false"
    );
    assert_eq!(ok(r#"{{ or .Values.c.a "q" }}"#), "map[b:1]");
    // Short-circuit: the nil field is never reached.
    assert_eq!(ok("{{ and .Values.c.z .Values.c.n.x }}"), "0");
    assert_eq!(ok(r#"{{ .Values.c.z | and true }}"#), "0");
    assert!(err("{{ and }}").contains("wrong number of args for and: want at least 1 got 0"));
    assert!(err("{{ not 1 2 }}").contains("wrong number of args for not: want 1 got 2"));
}

#[test]
fn comparisons() {
    assert_eq!(
        ok(
            r#"{{ eq .Values.c.i 3 }} {{ eq "a" "b" "a" }} {{ ne "a" "b" }} {{ eq .Values.c.t true }}"#
        ),
        "true true true true"
    );
    assert_eq!(
        ok(
            r#"{{ eq .Values.c.missing .Values.c.n }} {{ eq .Values.c.n 1 }} {{ eq 1 .Values.c.missing }}"#
        ),
        "true false false"
    );
    assert!(err("{{ eq 1 1.0 }}").contains("incompatible types for comparison: int and float64"));
    assert!(err(r#"{{ eq "x" 1 }}"#).contains("incompatible types for comparison: string and int"));
    assert!(err("{{ eq .Values.c.m .Values.c.m }}").contains("non-comparable type"));
    assert!(err("{{ eq 1 }}").contains("missing argument for comparison"));
    assert!(err("{{ ne 1 }}").contains("wrong number of args for ne: want 2 got 1"));
}

#[test]
fn index_function() {
    assert_eq!(
        ok(r#"{{ index .Values "c" "a" "b" }} {{ index .Values.c.arr 1 }}"#),
        "1 x"
    );
    assert_eq!(ok(r#"{{ index .Values.c "nope" }}"#), "<no value>");
    assert!(
        err(r#"{{ index .Values.c.nope "x" }}"#)
            .contains("error calling index: index of untyped nil")
    );
    assert!(err("{{ index .Values.c.arr 5 }}").contains("index out of range: 5"));
    assert!(
        err(r#"{{ index .Values.c.arr "x" }}"#)
            .contains("cannot index slice/array with type string")
    );
    assert!(err(r#"{{ index .Values.c.i "x" }}"#).contains("can't index item of type int"));
    assert!(err("{{ index .Values.c 1 }}").contains("value has type int; should be string"));
}

#[test]
fn default_replaces_only_nil_and_empty_string() {
    assert_eq!(
        ok(
            r#"{{ default "d" .Values.c.z }}{{ default "d" .Values.c.missing }}{{ default "d" .Values.c.s }}{{ default "d" .Values.c.f }}"#
        ),
        "0ddfalse"
    );
    assert_eq!(ok(r#"{{ default .Values.c.a "x" }}"#), "x");
    assert!(err("{{ default 1 }}").contains("wrong number of args for default: want 2 got 1"));
}

#[test]
fn to_string_and_to_yaml() {
    assert_eq!(
        ok(
            r#"{{ toString .Values.c.flt3 }} {{ toString .Values.c.t }} {{ toString "s" }} {{ toString .Values.c.arr }}"#
        ),
        "123456 true s [1 x map[k:v]]"
    );
    assert_eq!(ok("{{ toYaml .Values.c.sel }}"), "role: gpu\nzone: a");
    assert_eq!(
        ok("{{ toYaml .Values.c.str }}|{{ toYaml .Values.c.missing }}"),
        "hi|null"
    );
    let out = ok("{{ toYaml .Values.c.tol }}");
    let parsed: Value = serde_norway::from_str(&out).unwrap();
    assert_eq!(parsed, json!([{"key": "k", "operator": "Exists"}]));
    assert!(!out.ends_with('\n'));
}

#[test]
fn nindent_pads_non_empty_lines() {
    assert_eq!(
        ok("x:{{ toYaml .Values.c.sel | nindent 2 }}"),
        "x:\n  role: gpu\n  zone: a"
    );
    assert_eq!(ok(r#"{{ nindent 3 "a\n\nb" }}"#), "\n   a\n\n   b");
    assert!(
        err(r#"{{ nindent "2" "a" }}"#).contains("wrong type for value; expected int; got string")
    );
    assert!(err("{{ nindent 2 1 }}").contains("wrong type for value; expected string; got int"));
    assert!(err("{{ nindent 2 .Values.c.missing }}").contains("invalid value; expected string"));
    assert!(err(r#"{{ nindent -1 "a" }}"#).contains("out of range"));
}

#[test]
fn parse_errors_name_the_problem_and_place() {
    let e = parse("line one\n  {{ foo }}").unwrap_err();
    assert_eq!((e.line(), e.column()), (2, 6));
    assert_eq!(e.message(), "function \"foo\" not defined");
    assert_eq!(
        e.to_string(),
        "template line 2, column 6: function \"foo\" not defined"
    );
    assert!(err("{{ quote .Values.c.str }}").contains("function \"quote\" not defined"));
    assert!(err("{{ printf \"%d\" 1 }}").contains("builtin this renderer does not support"));
    assert!(err("{{ if 1 }}").contains("unclosed {{if}}: no {{end}}"));
    assert!(err("{{ end }}").contains("unexpected {{end}}"));
    assert!(err("{{ else }}").contains("unexpected {{else}}"));
    assert!(
        err("{{ if 1 }}{{ else }}{{ else }}{{ end }}").contains("expected {{end}}, found {{else}}")
    );
    assert!(err("{{ if }}{{ end }}").contains("missing value for if"));
    assert!(err("{{ }}").contains("missing value for command"));
    assert!(err("{{ .Values").contains("unclosed action"));
    assert!(err(r#"{{ "unterminated }}"#).contains("unterminated quoted string"));
    assert!(err("{{ template \"x\" }}").contains("not supported"));
    assert!(err("{{ 1x }}").contains("bad number syntax"));
    assert!(err("{{ 'c' }}").contains("character constants"));
    let deep = "(".repeat(200) + "1" + &")".repeat(200);
    assert!(err(&format!("{{{{ {deep} }}}}")).contains("nested too deeply"));
}

#[test]
fn exec_errors_carry_the_operand_position() {
    let e = render("a\nb {{ .Values.c.n.x }}", &CHART, &values()).unwrap_err();
    assert_eq!((e.line(), e.column()), (2, 6));
}

#[test]
fn templates_are_reusable() {
    let t = parse("{{ .Release.Namespace }}:{{ index .Values \"other\" }}").unwrap();
    let other = Chart {
        component: "other",
        namespace: "x",
        ..CHART
    };
    assert_eq!(t.render(&CHART, &values()).unwrap(), "ns:<no value>");
    let Value::Object(v) = json!({"k": 1}) else {
        unreachable!()
    };
    assert_eq!(t.render(&other, &v).unwrap(), "x:map[k:1]");
}

#[test]
fn has_objects_ignores_comments_blanks_and_separators() {
    assert!(!has_objects(""));
    assert!(!has_objects("# a comment\n\n---\n  # indented\n --- \n"));
    assert!(has_objects("# c\n---\nkind: ConfigMap\n"));
}
