//! The key order of result objects: `jsonata-rs` objects are hash maps, so the order of the
//! inputs and of the expression text is restored after evaluation.

use super::*;

/// Restores a readable key order in result objects; `jsonata-rs` objects are hash maps.
///
/// An object with exactly the keys of an object in `$states` or the variables takes that
/// object's order. An object with keys from the inputs that the expression does not name (a
/// `$merge` or a transform of input data) lists those input keys first, in input order, then the
/// others. Any other object (a constructor) follows the order in which the expression names its
/// keys. Remaining ties are broken alphabetically.
pub(super) struct KeyOrder<'t> {
    text: &'t str,
    /// Sorted key set -> key order of the first input object with that key set.
    exact: HashMap<Vec<String>, Vec<String>>,
    /// Key -> index of its first appearance in the inputs.
    first_seen: HashMap<String, usize>,
}

impl<'t> KeyOrder<'t> {
    /// The order learnt from the variables the expression reads; `$states` is learnt
    /// through [`KeyOrder::learn_along`].
    pub(super) fn new<'v>(text: &'t str, vars: impl Iterator<Item = &'v Value>) -> Self {
        let mut order = KeyOrder {
            text,
            exact: HashMap::new(),
            first_seen: HashMap::new(),
        };
        for value in vars {
            order.learn(value, 0);
        }
        order
    }

    /// Learns the objects of `value` that `paths` (see [`read_paths`]) lead through and to:
    /// those the expression can read; of an object on the way, its own keys only.
    pub(super) fn learn_along(&mut self, value: &Value, paths: &[Vec<&str>], depth: usize) {
        if paths.iter().any(Vec::is_empty) {
            return self.learn(value, depth);
        }
        if depth > MAX_RESULT_DEPTH {
            return;
        }
        match value {
            Value::Array(items) => items
                .iter()
                .for_each(|item| self.learn_along(item, paths, depth + 1)),
            Value::Object(map) => {
                self.learn_keys(map);
                for (key, member) in map {
                    let tails: Vec<Vec<&str>> = paths
                        .iter()
                        .filter(|path| path[0] == key)
                        .map(|path| path[1..].to_vec())
                        .collect();
                    if !tails.is_empty() {
                        self.learn_along(member, &tails, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// Learns the key order of one object, not of its members.
    fn learn_keys(&mut self, map: &Map<String, Value>) {
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in &keys {
            let next = self.first_seen.len();
            self.first_seen.entry(key.clone()).or_insert(next);
        }
        let mut sorted = keys.clone();
        sorted.sort();
        self.exact.entry(sorted).or_insert(keys);
    }

    fn learn(&mut self, value: &Value, depth: usize) {
        if depth > MAX_RESULT_DEPTH {
            return;
        }
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.learn(item, depth + 1)),
            Value::Object(map) => {
                self.learn_keys(map);
                map.values().for_each(|item| self.learn(item, depth + 1));
            }
            _ => {}
        }
    }

    pub(super) fn apply(&self, value: &mut Value) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(|item| self.apply(item)),
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                entries.iter_mut().for_each(|(_, item)| self.apply(item));
                let ranks = self.ranks(entries.iter().map(|(key, _)| key.as_str()));
                let mut ranked: Vec<_> = ranks.into_iter().zip(entries).collect();
                ranked.sort_by(|(a, (ka, _)), (b, (kb, _))| a.cmp(b).then_with(|| ka.cmp(kb)));
                map.extend(ranked.into_iter().map(|(_, entry)| entry));
            }
            _ => {}
        }
    }

    /// The sort rank of each key of one object, in the order given.
    fn ranks<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Vec<(usize, usize)> {
        let keys: Vec<&str> = keys.collect();
        let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        sorted.sort();
        if let Some(order) = self.exact.get(&sorted) {
            return keys
                .iter()
                .map(|key| (order.iter().position(|k| k == key).unwrap_or(usize::MAX), 0))
                .collect();
        }
        let facts: Vec<(Option<usize>, Option<usize>)> = keys
            .iter()
            .map(|key| {
                (
                    text_position(self.text, key),
                    self.first_seen.get(*key).copied(),
                )
            })
            .collect();
        let derived = facts
            .iter()
            .any(|(in_text, seen)| in_text.is_none() && seen.is_some());
        facts
            .into_iter()
            .map(|(in_text, seen)| match (derived, seen) {
                (true, Some(seen)) => (0, seen),
                (true, None) => (1, in_text.unwrap_or(usize::MAX)),
                (false, _) => (in_text.unwrap_or(usize::MAX), seen.unwrap_or(usize::MAX)),
            })
            .collect()
    }
}

/// Where `key` first appears in `text` as a quoted string or as a whole word.
fn text_position(text: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(key)
        .find(|(start, _)| {
            let before = text[..*start].chars().next_back();
            let after = text[start + key.len()..].chars().next();
            let quoted = matches!(
                (before, after),
                (Some('\''), Some('\'')) | (Some('"'), Some('"'))
            );
            quoted || (!before.is_some_and(is_word) && !after.is_some_and(is_word))
        })
        .map(|(start, _)| start)
}
