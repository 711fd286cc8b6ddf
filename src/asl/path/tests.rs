//! The Jayway dialect pinned: every form Step Functions accepts, its result shape (one value
//! or a list) and its messages.

use super::*;
use serde_json::json;

fn eval(path: &str, input: Value) -> Result<Value, PathMissing> {
    let ctx = json!({"Execution": {"Id": "x"}});
    Path::parse(path)
        .expect("valid path")
        .eval(&Scope::new(&input, &ctx))
}

fn ok(path: &str, input: Value) -> Value {
    match eval(path, input) {
        Ok(v) => v,
        Err(e) => panic!("{path}: {e}"),
    }
}

fn reason(path: &str, input: Value) -> String {
    match eval(path, input) {
        Ok(v) => panic!("{path} found {v}"),
        Err(e) => e.to_string(),
    }
}

fn interests() -> Value {
    json!({"data": {"interests": [
        {"category": "home", "type": "own", "yearBuilt": 2004},
        {"category": "auto", "type": "car", "yearBuilt": 2012},
        {"category": "home", "type": "business", "yearBuilt": 2009}
    ]}})
}

#[test]
fn reference_paths_walk_fields_and_indexes() {
    let doc = json!({"a": {"b-c": [1, 2, {"d": true}]}});
    assert_eq!(ok("$.a.b-c[2].d", doc.clone()), json!(true));
    assert_eq!(ok("$['a']['b-c'][-1]", doc.clone()), json!({"d": true}));
    assert_eq!(ok("$", doc.clone()), doc);
    assert_eq!(ok("$$.Execution.Id", json!({})), json!("x"));
    assert!(Path::parse("$.a.b-c[2].d").expect("valid").is_reference());
}

#[test]
fn a_dot_before_a_bracket_is_the_bracket() {
    let doc = json!({"a": [{"b": 1}, {"b": 2}], "def ghi": 3});
    assert_eq!(ok("$.[0]", json!(["x", "y"])), json!("x"));
    assert_eq!(ok("$.a.[1].b", doc.clone()), json!(2));
    assert_eq!(ok("$.['def ghi']", doc.clone()), json!(3));
    let p = Path::parse("$.a.[0].b").expect("valid");
    assert!(
        p.is_reference(),
        "a dot before a bracket is still a reference path"
    );
}

#[test]
fn names_take_any_character_but_space_dot_bracket_and_parenthesis() {
    let doc = json!({"a:b": 1, "x-y*z": 2, "é": 3});
    assert_eq!(ok("$.a:b", doc.clone()), json!(1));
    assert_eq!(ok("$.x-y*z", doc.clone()), json!(2));
    assert_eq!(ok("$.é", doc), json!(3));
    let e = Path::parse("$.a b").expect_err("space");
    assert!(e.reason.contains("Use bracket notion ['my prop']"), "{e}");
}

#[test]
fn a_quoted_union_at_the_end_merges_into_one_object() {
    let doc = json!({"a": 1, "b": 2, "c": 3});
    assert_eq!(ok("$['a','b']", doc.clone()), json!({"a": 1, "b": 2}));
    assert_eq!(ok("$['a', \"c\", 'zz']", doc), json!({"a": 1, "c": 3}));
    let items = json!({"items": [{"id": 1, "name": "x", "n": 0}, {"id": 2, "name": "y"}]});
    assert_eq!(
        ok("$.items[*]['id','name']", items.clone()),
        json!([{"id": 1, "name": "x"}, {"id": 2, "name": "y"}])
    );
    // Not at the end, a union walks each name in turn.
    let nested = json!({"a": {"v": 1}, "b": {"v": 2}});
    assert_eq!(ok("$['a','b'].v", nested), json!([1, 2]));
    assert!(!Path::parse("$['a','b']").expect("valid").is_reference());
}

#[test]
fn indexes_slices_and_wildcards() {
    let doc = json!({"l": ["a", "b", "c", "d", "e"]});
    assert_eq!(ok("$.l[0,2]", doc.clone()), json!(["a", "c"]));
    assert_eq!(ok("$.l[1:3]", doc.clone()), json!(["b", "c"]));
    assert_eq!(ok("$.l[:2]", doc.clone()), json!(["a", "b"]));
    assert_eq!(ok("$.l[-2:]", doc.clone()), json!(["d", "e"]));
    assert_eq!(ok("$.l[3:]", doc.clone()), json!(["d", "e"]));
    // Jayway ignores a slice's step.
    assert_eq!(ok("$.l[0:3:2]", doc.clone()), json!(["a", "b", "c"]));
    assert_eq!(ok("$.l[*]", doc.clone()), doc["l"]);
    assert_eq!(ok("$.*", json!({"a": 1, "b": [2]})), json!([1, [2]]));
    assert_eq!(ok("$.items[1:5]", json!({"items": []})), json!([]));
}

#[test]
fn the_script_index_counts_from_the_end() {
    let doc = json!({"l": ["a", "b", "c"]});
    assert_eq!(ok("$.l[(@.length-1)]", doc.clone()), json!("c"));
    assert_eq!(ok("$.l[( @.length - 2 )]", doc.clone()), json!("b"));
    assert_eq!(
        reason("$.l[(@.length)]", doc),
        "Invalid path '$.l[(@.length)]' : No results for path: $['l'][(@.length)]"
    );
    assert!(Path::parse("$.l[(@.foo)]").is_err());
}

#[test]
fn deep_scan_finds_every_depth_outermost_first() {
    let doc = json!({"a": {"x": 1, "b": [{"x": 2}, {"c": {"x": 3}}]}, "x": 0});
    // Jayway visits a node before its children.
    assert_eq!(ok("$..x", doc.clone()), json!([0, 1, 2, 3]));
    assert_eq!(ok("$.a..x", doc), json!([1, 2, 3]));
    assert_eq!(
        ok("$..interests[?(@.category==home)].type", interests()),
        json!(["own", "business"])
    );
    assert_eq!(
        ok("$..[0]", json!({"a": [1, 2], "b": {"c": [3]}})),
        json!([1, 3])
    );
    assert!(Path::parse("$..").is_err());
    assert!(Path::parse("$...").is_err());
}

#[test]
fn filters_compare_numbers_strings_and_bare_words() {
    let doc = interests();
    let homes = json!([
        {"category": "home", "type": "own", "yearBuilt": 2004},
        {"category": "home", "type": "business", "yearBuilt": 2009}
    ]);
    assert_eq!(ok("$..interests[?(@.category==home)]", doc.clone()), homes);
    assert_eq!(
        ok("$.data.interests[?(@.category == 'home')]", doc.clone()),
        homes
    );
    assert_eq!(
        ok("$.data.interests[?(@.category == \"home\")]", doc.clone()),
        homes
    );
    assert_eq!(
        ok("$.data.interests[?(@.yearBuilt > 2005)].type", doc.clone()),
        json!(["car", "business"])
    );
    assert_eq!(
        ok(
            "$.data.interests[?(@.yearBuilt >= 2004 && @.category != 'auto')].type",
            doc.clone()
        ),
        json!(["own", "business"])
    );
    assert_eq!(
        ok(
            "$.data.interests[?(@.type == 'car' || @.yearBuilt < 2005)].type",
            doc.clone()
        ),
        json!(["own", "car"])
    );
    assert_eq!(
        ok(
            "$.data.interests[?(!(@.category == 'home'))].type",
            doc.clone()
        ),
        json!(["car"])
    );
    // A string and a number are equal when their text is.
    assert_eq!(
        ok("$[?(@.n == '1')].n", json!([{"n": 1}, {"n": 2}])),
        json!([1])
    );
}

#[test]
fn filters_test_existence_and_lexical_operators() {
    let doc = json!({"l": [
        {"id": 1, "tags": ["a", "b"], "name": "Ann"},
        {"id": 2, "tags": [], "opt": null, "name": "bob"},
        {"id": 3, "name": "Cy"}
    ]});
    assert_eq!(ok("$.l[?(@.opt)].id", doc.clone()), json!([2]));
    assert_eq!(ok("$.l[?(!@.tags)].id", doc.clone()), json!([3]));
    assert_eq!(ok("$.l[?(@.id in [1, 3])].id", doc.clone()), json!([1, 3]));
    assert_eq!(ok("$.l[?(@.id nin [1, 3])].id", doc.clone()), json!([2]));
    assert_eq!(
        ok("$.l[?(@.tags subsetof ['a', 'b', 'c'])].id", doc.clone()),
        json!([1, 2])
    );
    assert_eq!(ok("$.l[?(@.tags anyof ['b'])].id", doc.clone()), json!([1]));
    assert_eq!(
        ok("$.l[?(@.tags noneof ['b'])].id", doc.clone()),
        json!([2])
    );
    assert_eq!(
        ok("$.l[?(@.tags contains 'a')].id", doc.clone()),
        json!([1])
    );
    assert_eq!(ok("$.l[?(@.tags size 2)].id", doc.clone()), json!([1]));
    assert_eq!(ok("$.l[?(@.tags empty true)].id", doc.clone()), json!([2]));
    assert_eq!(ok("$.l[?(@.name =~ /a.*/i)].id", doc.clone()), json!([1]));
    assert_eq!(
        ok("$.l[?(@.name =~ /b/)].id", doc.clone()),
        json!([]),
        "a pattern matches the whole text"
    );
    // `!=` holds when the field is missing, as in Jayway.
    assert_eq!(ok("$.l[?(@.opt != 'x')].id", doc.clone()), json!([1, 2, 3]));
    // A filter may read the document root.
    let cmp = json!({"limit": 2, "l": [{"v": 1}, {"v": 3}]});
    assert_eq!(ok("$.l[?(@.v <= $['limit'])].v", cmp), json!([1]));
}

#[test]
fn at_matches_objects_only() {
    // AWS: "The @ operator ... does not match scalar values. It only matches objects."
    assert_eq!(ok("$.n[?(@ > 1)]", json!({"n": [1, 2, 3]})), json!([]));
    // A filter on an object tests the object itself.
    assert_eq!(
        ok("$.o[?(@.a == 1)]", json!({"o": {"a": 1}})),
        json!([{"a": 1}])
    );
}

#[test]
fn functions_at_the_tail() {
    let doc = json!({"l": [1, 2, 3, 4], "o": {"a": 1, "b": 2}, "s": "héllo"});
    assert_eq!(ok("$.l.length()", doc.clone()), json!(4));
    assert_eq!(ok("$.o.length()", doc.clone()), json!(2));
    assert_eq!(ok("$.s.length()", doc.clone()), json!(5));
    assert_eq!(ok("$.l.sum()", doc.clone()), json!(10.0));
    assert_eq!(ok("$.l.avg()", doc.clone()), json!(2.5));
    assert_eq!(ok("$.l.min()", doc.clone()), json!(1.0));
    assert_eq!(ok("$.l.max()", doc.clone()), json!(4.0));
    assert_eq!(ok("$.o.keys()", doc.clone()), json!(["a", "b"]));
    assert_eq!(ok("$.l.first()", doc.clone()), json!(1));
    assert_eq!(ok("$.l.last()", doc.clone()), json!(4));
    assert_eq!(
        ok("$..a.length()", json!({"x": {"a": 1}, "y": {"a": 2}})),
        json!(2)
    );
    assert!(Path::parse("$.l.nope()").is_err());
    assert!(Path::parse("$.l.length().x").is_err());
}

#[test]
fn definite_paths_fail_with_jaywayss_messages() {
    // A missing leaf: "No results for path" and the whole path.
    assert_eq!(
        reason("$.NoSuchInputPath", json!({})),
        "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
    );
    // A missing step before the leaf: "Missing property" up to that step.
    assert_eq!(
        reason("$.no.such.path", json!({})),
        "Invalid path '$.no.such.path' : Missing property in path $['no']"
    );
    assert_eq!(
        reason("$.a[5]", json!({"a": [1]})),
        "Invalid path '$.a[5]' : No results for path: $['a'][5]"
    );
    assert_eq!(
        reason("$.a[5].b", json!({"a": [1]})),
        "Invalid path '$.a[5].b' : No results for path: $['a'][5]['b']"
    );
    assert_eq!(
        reason("$.a.b", json!({"a": 7})),
        "Invalid path '$.a.b' : Expected to find an object with property ['b'] in path $['a'] but found 'java.lang.Integer'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'."
    );
    assert_eq!(
        reason("$.a[0]", json!({"a": null})),
        "Invalid path '$.a[0]' : The path $['a'] is null"
    );
    assert_eq!(
        reason("$.a[0].b", json!({"a": {"k": [1, 2]}})),
        "Invalid path '$.a[0].b' : Filter: [0]['b'] can only be applied to arrays. Current context is: {k=[1, 2]}"
    );
    assert_eq!(
        reason("$.a.[0]", json!({"b": 1})),
        "Invalid path '$.a.[0]' : Missing property in path $['a']"
    );
}

#[test]
fn indefinite_paths_skip_what_is_missing() {
    let doc = json!({"users": [{"s": 0, "y": 1}, {"s": 1}, 5]});
    assert_eq!(ok("$.users[*].y", doc.clone()), json!([1]));
    assert_eq!(
        ok("$.users[?(@.s == 0)]", doc.clone()),
        json!([{"s": 0, "y": 1}])
    );
    // An indefinite path never fails: what is missing on the way gives an empty list.
    assert_eq!(ok("$.nothing[*]", json!({})), json!([]));
    assert_eq!(ok("$.no.such[1:5]", json!({})), json!([]));
    assert_eq!(ok("$.a[*].b", json!({"a": 5})), json!([]));
    assert_eq!(ok("$..nope", doc), json!([]));
}

#[test]
fn lookup_borrows_definite_paths() {
    let input = json!({"a": [{"b": 1}, {"b": 2}]});
    let scope = Scope::new(&input, &Value::Null);
    let p = Path::parse("$.a[(@.length-1)].b").expect("valid");
    assert_eq!(p.lookup(&scope), Some(&json!(2)));
    assert_eq!(Path::parse("$.a[*].b").expect("valid").lookup(&scope), None);
}

#[test]
fn bracket_names_keep_backslashes_before_other_quotes() {
    let input = json!({"Test\\\"\"Name\"": 1});
    assert_eq!(ok("$['Test\\\"\"Name\"']", input), json!(1));
}

#[test]
fn set_creates_missing_objects() {
    let p = Path::parse("$.a.b").expect("valid");
    assert_eq!(
        p.set(json!({"x": 1}), json!(2)),
        Ok(json!({"x": 1, "a": {"b": 2}}))
    );
    let root = Path::parse("$").expect("valid");
    assert_eq!(root.set(json!({"x": 1}), json!(2)), Ok(json!(2)));
    assert!(p.set(json!({"a": 5}), json!(2)).is_err());
    let dotted = Path::parse("$.a.['b']").expect("valid");
    assert_eq!(dotted.set(json!({}), json!(1)), Ok(json!({"a": {"b": 1}})));
}

#[test]
fn variable_paths_read_variables() {
    let mut vars = Map::new();
    vars.insert("list".into(), json!(["a", "b"]));
    let input = json!({});
    let scope = Scope::new(&input, &Value::Null).with_vars(&vars);
    let p = Path::parse("$list[1]").expect("valid");
    assert_eq!(p.variable(), Some("list"));
    assert_eq!(p.eval(&scope), Ok(json!("b")));
    assert!(Path::parse("$nope").expect("valid").eval(&scope).is_err());
}

#[test]
fn non_paths_are_rejected_with_jayways_reasons() {
    for (bad, why) in [
        ("a.b", "must start with '$'"),
        ("$.a[", "Expected ?, ', 0-9, * "),
        ("$.", "must not end with a '.'"),
        ("$..", "must not end with a '.'"),
        ("$.a..", "must not end with a '.'"),
        ("$[]", "Expected ?, ', 0-9, * "),
        ("$['a'", "separated by comma"),
        ("$['a", "missing closing '"),
        ("$['a' 'b']", "separated by comma"),
        ("$[?(@.a ==)]", "Failed to parse filter"),
        ("$[?(@.a == 1]", "missing ')'"),
        ("$[*x]", "wildcard token to end with ']'"),
        ("$.a.length(1)", "not closed properly"),
    ] {
        match Path::parse(bad) {
            Ok(_) => panic!("{bad} was accepted"),
            Err(e) => assert!(e.reason.contains(why), "{bad}: {}", e.reason),
        }
    }
}

/// The forms Jayway and RFC 9535 agree on, checked against `jsonpath-rust`.
#[test]
fn common_forms_agree_with_rfc_9535() {
    use jsonpath_rust::JsonPath;
    let doc = json!({
        "store": {"book": [
            {"title": "a", "price": 8, "tags": ["x"]},
            {"title": "b", "price": 12},
            {"title": "c", "price": 9, "isbn": "1"}
        ], "bicycle": {"price": 20}}
    });
    for path in [
        "$.store.book[*].title",
        "$.store.book[0,2].title",
        "$.store.book[1:3].price",
        "$.store.book[?(@.price < 10)].title",
        "$.store.book[?(@.isbn)].title",
        "$.store.*",
        "$['store']['bicycle']",
    ] {
        let ours = ok(path, doc.clone());
        let theirs: Vec<Value> = doc
            .query(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_iter()
            .cloned()
            .collect();
        let ours = match ours {
            Value::Array(items) if !Path::parse(path).expect("valid").is_definite() => items,
            single => vec![single],
        };
        assert_eq!(ours, theirs, "{path}");
    }
}

/// Found by the `definition` fuzz target: a filter nested thousands of levels deep (parentheses,
/// `!`, filters inside a filter's path) overflowed the stack of the thread validating it.
#[test]
fn deeply_nested_filters_are_refused_not_a_stack_overflow() {
    let n = 20_000;
    for deep in [
        format!("$[?({}@.a{})]", "(".repeat(n), ")".repeat(n)),
        format!("$[?({}@.a)]", "!".repeat(n)),
        format!("$[?({}@.a == 1{})]", "!(".repeat(n), ")".repeat(n)),
        format!("${}.a{}", "[?(@".repeat(n), ")]".repeat(n)),
    ] {
        match Path::parse(&deep) {
            Ok(_) => panic!("a filter nested {n} deep was accepted"),
            Err(e) => assert!(
                e.reason.contains("nested more than 100 levels deep"),
                "{}",
                e.reason
            ),
        }
    }
    // Nesting within the bound still parses and evaluates.
    let n = 40;
    let path = format!(
        "$.data.interests[?({}@.yearBuilt > 2005{})].type",
        "(".repeat(n),
        ")".repeat(n)
    );
    assert_eq!(ok(&path, interests()), json!(["car", "business"]));
    let path = "$.data.interests[?(!(!(@.yearBuilt > 2005)))].type";
    assert_eq!(ok(path, interests()), json!(["car", "business"]));
}
