//! The SP registry: an immutable snapshot per request, swapped whole when metadata is reloaded.

use crate::error::MetadataError;
use crate::sp::ServiceProvider;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Debug, Default)]
pub struct SpRegistry {
    by_entity_id: HashMap<String, Arc<ServiceProvider>>,
}

impl SpRegistry {
    /// Build a registry; the same entityID twice is an error (which one would be trusted?).
    pub fn new(
        sps: impl IntoIterator<Item = (String, Arc<ServiceProvider>)>,
    ) -> Result<Self, MetadataError> {
        let mut by_entity_id = HashMap::new();
        for (source_name, sp) in sps {
            if by_entity_id.contains_key(&sp.entity_id) {
                return Err(MetadataError::Duplicate {
                    source_name,
                    entity_id: sp.entity_id.clone(),
                });
            }
            by_entity_id.insert(sp.entity_id.clone(), sp);
        }
        Ok(SpRegistry { by_entity_id })
    }

    pub fn get(&self, entity_id: &str) -> Option<Arc<ServiceProvider>> {
        self.by_entity_id.get(entity_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.by_entity_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_entity_id.is_empty()
    }

    pub fn entity_ids(&self) -> impl Iterator<Item = &str> {
        self.by_entity_id.keys().map(String::as_str)
    }
}

/// Shared handle: readers take a snapshot, a reload replaces it atomically (all or nothing).
#[derive(Clone, Debug, Default)]
pub struct SpRegistryHandle {
    current: Arc<RwLock<Arc<SpRegistry>>>,
}

impl SpRegistryHandle {
    pub fn new(reg: SpRegistry) -> Self {
        SpRegistryHandle {
            current: Arc::new(RwLock::new(Arc::new(reg))),
        }
    }

    pub fn snapshot(&self) -> Arc<SpRegistry> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, reg: SpRegistry) {
        let new = Arc::new(reg);
        match self.current.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}
