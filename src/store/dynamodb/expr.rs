//! Update and condition expressions built with their attribute names and values.

use super::*;

/// An update expression with its condition, names and values.
#[derive(Default, Clone)]
pub(super) struct Expr {
    pub(super) set: Vec<String>,
    pub(super) remove: Vec<String>,
    pub(super) condition: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// `SET name = value`, with a placeholder for both.
    pub(super) fn set(&mut self, name: &str, value: AttributeValue) {
        let (pn, pv) = self.name_value(name, value);
        self.set.push(format!("{pn} = {pv}"));
    }

    /// `SET name = if_not_exists(name, value)`.
    pub(super) fn set_if_missing(&mut self, name: &str, value: AttributeValue) {
        let (pn, pv) = self.name_value(name, value);
        self.set.push(format!("{pn} = if_not_exists({pn}, {pv})"));
    }

    pub(super) fn remove(&mut self, name: &str) {
        let pn = self.name(name);
        self.remove.push(pn);
    }

    /// A condition `name <op> value`.
    pub(super) fn check(&mut self, name: &str, op: &str, value: AttributeValue) {
        let (pn, pv) = self.name_value(name, value);
        self.condition.push(format!("{pn} {op} {pv}"));
    }

    /// A condition written out, with `#name` and `:value` placeholders registered by the caller.
    pub(super) fn check_raw(&mut self, condition: impl Into<String>) {
        self.condition.push(condition.into());
    }

    pub(super) fn name(&mut self, name: &str) -> String {
        let placeholder = format!("#{name}");
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn name_value(&mut self, name: &str, value: AttributeValue) -> (String, String) {
        (self.name(name), self.value(value))
    }

    pub(super) fn update_expression(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    pub(super) fn condition_expression(&self) -> Option<String> {
        (!self.condition.is_empty()).then(|| self.condition.join(" AND "))
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}
