//! Fields of the ecommerce entities beyond the ones the event model names (`product.quantity`,
//! `transaction.payment_method`, ...): the parser keeps those a catalogue reads, and only those,
//! so that a field no feature reads costs nothing.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};

use crate::event::ShopperEvent;
pub use crate::event::{FieldValue, Slot};

/// An ecommerce entity (`com.snowplowanalytics.snowplow.ecommerce/<name>`) whose fields a
/// catalogue can read as `<name>.<field>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKind {
    /// `product`: of the event's first product entity with an id.
    Product,
    /// `cart`.
    Cart,
    /// `transaction`.
    Transaction,
    /// `refund`.
    Refund,
    /// `checkout_step`.
    CheckoutStep,
    /// `promotion`.
    Promotion,
    /// `transaction_error`.
    TransactionError,
    /// `user`: the ecommerce user entity (`id`, `is_guest`, `email`).
    User,
    /// `page`: the ecommerce page entity (`type`, `language`, `locale`).
    Page,
}

/// Every entity kind with its schema name, which is also its prefix in property names.
pub const ENTITY_KINDS: [(&str, EntityKind); 9] = [
    ("product", EntityKind::Product),
    ("cart", EntityKind::Cart),
    ("transaction", EntityKind::Transaction),
    ("refund", EntityKind::Refund),
    ("checkout_step", EntityKind::CheckoutStep),
    ("promotion", EntityKind::Promotion),
    ("transaction_error", EntityKind::TransactionError),
    ("user", EntityKind::User),
    ("page", EntityKind::Page),
];

impl EntityKind {
    /// The kind whose schema is called `name`.
    pub fn named(name: &str) -> Option<EntityKind> {
        ENTITY_KINDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, kind)| kind)
    }

    /// Whether the event model names fields of it (`product.id`, `cart.total_value`, ...), so
    /// that the parser reads it whatever a catalogue keeps.
    pub fn has_named_fields(self) -> bool {
        matches!(
            self,
            EntityKind::Product
                | EntityKind::Cart
                | EntityKind::Transaction
                | EntityKind::CheckoutStep
                | EntityKind::Promotion
        )
    }

    /// Its schema name.
    pub fn name(self) -> &'static str {
        ENTITY_KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |&(name, _)| name)
    }
}

/// What a field holds, which decides how the parser reads it and what a catalogue may do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FieldType {
    /// Text: a JSON string, or the text of a JSON number or boolean.
    Text,
    /// A number (a JSON number or a string holding one), exact to a millionth like prices.
    Number,
    /// `true` or `false` (a JSON boolean, or a string holding one).
    Bool,
}

impl FieldType {
    /// The type called `name` in a catalogue file.
    pub fn named(name: &str) -> Option<FieldType> {
        match name {
            "text" => Some(FieldType::Text),
            "number" => Some(FieldType::Number),
            "bool" => Some(FieldType::Bool),
            _ => None,
        }
    }
}

/// One field the parser keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntityField {
    /// The entity it belongs to.
    pub entity: EntityKind,
    /// Its key in the entity's `data` object.
    pub key: &'static str,
    /// What it holds.
    pub kind: FieldType,
    /// `<entity>.<key>`, as catalogues and bad rows name it.
    pub name: &'static str,
}

/// The fields the parser keeps, in the order of their slots. Empty by default: the parser then
/// reads the event model's fields and nothing more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EntityFields {
    fields: Vec<EntityField>,
}

/// No field beyond the event model's.
pub static NO_FIELDS: EntityFields = EntityFields { fields: Vec::new() };

impl EntityFields {
    /// Adds `entity`'s field `key` of type `kind` (a field added twice keeps its first slot) and
    /// returns its slot; `None` past [`Slot::MAX`] fields or when the field was added with
    /// another type.
    pub fn add(&mut self, entity: EntityKind, key: &str, kind: FieldType) -> Option<Slot> {
        if let Some(slot) = self.slot(entity, key) {
            return (self.fields[usize::from(slot)].kind == kind).then_some(slot);
        }
        let slot = Slot::try_from(self.fields.len()).ok()?;
        let name = intern(format!("{}.{key}", entity.name()));
        self.fields.push(EntityField {
            entity,
            key: &name[entity.name().len() + 1..],
            kind,
            name,
        });
        Some(slot)
    }

    /// The slot of `entity`'s field `key`, if it is kept.
    pub fn slot(&self, entity: EntityKind, key: &str) -> Option<Slot> {
        self.fields
            .iter()
            .position(|f| f.entity == entity && f.key == key)
            .and_then(|i| Slot::try_from(i).ok())
    }

    /// The field in `slot`.
    pub fn get(&self, slot: Slot) -> Option<&EntityField> {
        self.fields.get(usize::from(slot))
    }

    /// Whether any field of `entity` is kept.
    pub fn wants(&self, entity: EntityKind) -> bool {
        self.fields.iter().any(|f| f.entity == entity)
    }

    /// Whether no field is kept.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The kept fields, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &EntityField> {
        self.fields.iter()
    }
}

/// `name` for the life of the process, so that a bad row can name a kept field the way it names
/// every other field (by a `&'static str`). Each distinct name is kept once, however many
/// catalogues are read.
fn intern(name: String) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match names.get(name.as_str()) {
        Some(kept) => kept,
        None => {
            let kept: &'static str = Box::leak(name.into_boxed_str());
            names.insert(kept);
            kept
        }
    }
}

/// The value of the kept field in `slot` of `event`, if the event has it.
pub fn field_of(event: &ShopperEvent, slot: Slot) -> Option<&FieldValue> {
    event
        .fields
        .iter()
        .find(|(s, _)| *s == slot)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_keeps_its_first_slot_and_its_type() {
        let mut fields = EntityFields::default();
        let quantity = fields.add(EntityKind::Product, "quantity", FieldType::Number);
        let method = fields.add(EntityKind::Transaction, "payment_method", FieldType::Text);
        assert_eq!((quantity, method), (Some(0), Some(1)));
        assert_eq!(
            fields.add(EntityKind::Product, "quantity", FieldType::Number),
            Some(0)
        );
        assert_eq!(
            fields.add(EntityKind::Product, "quantity", FieldType::Text),
            None
        );
        assert_eq!(
            fields.get(1).map(|f| f.name),
            Some("transaction.payment_method")
        );
        assert!(fields.wants(EntityKind::Product) && !fields.wants(EntityKind::Cart));
        for (name, kind) in ENTITY_KINDS {
            assert_eq!(EntityKind::named(name), Some(kind));
            assert_eq!(kind.name(), name);
        }
    }
}
