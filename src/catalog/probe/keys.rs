//! Lookups over a header's tensor names and shapes, wherever the same
//! module sits under different prefixes (`model.diffusion_model.` in a
//! checkpoint, nothing in a diffusion_models file, `control_model.` in a
//! ControlNet).

use std::collections::HashMap;

/// Tensor names (sorted) and their shapes (PyTorch order).
pub(super) struct Keys<'a> {
    names: Vec<&'a str>,
    shapes: HashMap<&'a str, &'a [u64]>,
}

impl<'a> Keys<'a> {
    pub(super) fn new(tensors: impl IntoIterator<Item = (&'a str, &'a [u64])>) -> Keys<'a> {
        let shapes: HashMap<&str, &[u64]> = tensors.into_iter().collect();
        let mut names: Vec<&str> = shapes.keys().copied().collect();
        names.sort_unstable();
        Keys { names, shapes }
    }

    pub(super) fn len(&self) -> usize {
        self.names.len()
    }

    pub(super) fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.names.iter().copied()
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.shapes.contains_key(name)
    }

    pub(super) fn shape(&self, name: &str) -> Option<&'a [u64]> {
        self.shapes.get(name).copied()
    }

    /// Dimension `i` of a tensor's shape.
    pub(super) fn dim(&self, name: &str, i: usize) -> Option<u64> {
        self.shape(name)?.get(i).copied()
    }

    /// Whether some tensor name starts with `prefix`.
    pub(super) fn any_under(&self, prefix: &str) -> bool {
        let at = self.names.partition_point(|n| *n < prefix);
        self.names.get(at).is_some_and(|n| n.starts_with(prefix))
    }

    /// The shortest prefix (empty or ending in '.') under which a tensor
    /// named `<prefix><suffix>` exists.
    pub(super) fn prefix_of(&self, suffix: &str) -> Option<&'a str> {
        self.names
            .iter()
            .filter_map(|n| n.strip_suffix(suffix))
            .filter(|p| p.is_empty() || p.ends_with('.'))
            .min_by_key(|p| p.len())
    }

    /// Every prefix under which `<prefix><suffix>` exists, sorted.
    pub(super) fn prefixes_of(&self, suffix: &str) -> Vec<&'a str> {
        self.names
            .iter()
            .filter_map(|n| n.strip_suffix(suffix))
            .filter(|p| p.is_empty() || p.ends_with('.'))
            .collect()
    }

    /// The first tensor (by name) under `prefix` whose name ends with `suffix`.
    pub(super) fn first(&self, prefix: &str, suffix: &str) -> Option<(&'a str, &'a [u64])> {
        self.names
            .iter()
            .find(|n| n.starts_with(prefix) && n.ends_with(suffix))
            .map(|n| (*n, self.shapes[n]))
    }

    /// How many tensor names satisfy `pred`.
    pub(super) fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.names.iter().filter(|n| pred(n)).count()
    }

    /// Number of distinct `N` in `<prefix><N>.<rest>` for tensors named so,
    /// e.g. the depth of `joint_blocks.N.x_block.attn.qkv.weight`.
    pub(super) fn blocks(&self, prefix: &str, rest: &str) -> usize {
        self.count(|n| {
            n.strip_prefix(prefix)
                .and_then(|r| r.split_once('.'))
                .is_some_and(|(i, tail)| i.parse::<u32>().is_ok() && tail == rest)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_prefixes_and_blocks() {
        let shapes = [vec![4, 3], vec![2], vec![2], vec![7]];
        let names = [
            "model.diffusion_model.input_blocks.0.0.weight",
            "joint_blocks.0.x_block.attn.qkv.weight",
            "joint_blocks.1.x_block.attn.qkv.weight",
            "xinput_blocks.0.0.weight",
        ];
        let keys = Keys::new(names.iter().copied().zip(shapes.iter().map(Vec::as_slice)));
        assert_eq!(
            keys.prefix_of("input_blocks.0.0.weight"),
            Some("model.diffusion_model.")
        );
        assert_eq!(keys.blocks("joint_blocks.", "x_block.attn.qkv.weight"), 2);
        assert!(keys.any_under("model.diffusion_model."));
        assert!(!keys.any_under("first_stage_model."));
        assert_eq!(
            keys.dim("model.diffusion_model.input_blocks.0.0.weight", 1),
            Some(3)
        );
        assert_eq!(keys.prefixes_of("nothing"), Vec::<&str>::new());
    }
}
