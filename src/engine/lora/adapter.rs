//! A LoRA file's tensors grouped into one adapter per module.
//!
//! Every tensor name is split into a module name and a role by its suffix
//! (kohya `.lora_down.weight`, PEFT `.lora_A.weight`, old diffusers
//! `_lora.down.weight`, LyCORIS `.hada_w1_a`, `.lokr_w1`, ...), the same
//! suffixes ComfyUI's adapters look for. A tensor whose suffix is none of
//! these is kept by name, so the caller can report it instead of dropping it.
//! Tensors stay in the file's dtype; the merge casts them to f32.

use std::collections::{BTreeMap, HashMap};

use candle_core::Tensor;

/// One adapted module, in the form ComfyUI's `calculate_weight` takes.
#[derive(Debug, Clone)]
pub enum Adapter {
    /// LoRA / LoCon: `W += s·(alpha/rank)·(up @ down)`, with an optional
    /// Tucker `mid` for 3×3 convolutions.
    Lora {
        up: Tensor,
        down: Tensor,
        mid: Option<Tensor>,
        alpha: Option<f64>,
        dora_scale: Option<Tensor>,
    },
    /// LyCORIS LoHa: `(w1a @ w1b) ⊙ (w2a @ w2b)`, or with Tucker cores t1/t2.
    LoHa {
        w1a: Tensor,
        w1b: Tensor,
        w2a: Tensor,
        w2b: Tensor,
        t: Option<(Tensor, Tensor)>,
        alpha: Option<f64>,
        dora_scale: Option<Tensor>,
    },
    /// LyCORIS LoKr: `kron(w1, w2)`, each factor whole or as a product.
    LoKr {
        w1: Factor,
        w2: Factor,
        t2: Option<Tensor>,
        alpha: Option<f64>,
        dora_scale: Option<Tensor>,
    },
    /// A full difference (`.diff`, `.w_norm`): `W += s·diff`.
    Diff(Tensor),
}

/// A LoKr factor: stored whole or as `a @ b` (whose rank scales alpha).
#[derive(Debug, Clone)]
pub enum Factor {
    Full(Tensor),
    Product(Tensor, Tensor),
}

impl Adapter {
    /// The kind, as ComfyUI names its patch types.
    pub fn kind(&self) -> &'static str {
        match self {
            Adapter::Lora { .. } => "lora",
            Adapter::LoHa { .. } => "loha",
            Adapter::LoKr { .. } => "lokr",
            Adapter::Diff(_) => "diff",
        }
    }
}

/// Tensor-name suffixes and the role each plays. Longer, more specific
/// suffixes first.
const ROLES: &[(&str, Role)] = &[
    (".lora_up.weight", Role::Up),
    (".lora_down.weight", Role::Down),
    (".lora_mid.weight", Role::Mid),
    ("_lora.up.weight", Role::Up),
    ("_lora.down.weight", Role::Down),
    (".lora_B.weight", Role::Up),
    (".lora_A.weight", Role::Down),
    (".lora.up.weight", Role::Up),
    (".lora.down.weight", Role::Down),
    (".lora_linear_layer.up.weight", Role::Up),
    (".lora_linear_layer.down.weight", Role::Down),
    (".hada_w1_a", Role::HadaW1A),
    (".hada_w1_b", Role::HadaW1B),
    (".hada_w2_a", Role::HadaW2A),
    (".hada_w2_b", Role::HadaW2B),
    (".hada_t1", Role::HadaT1),
    (".hada_t2", Role::HadaT2),
    (".lokr_w1_a", Role::LokrW1A),
    (".lokr_w1_b", Role::LokrW1B),
    (".lokr_w2_a", Role::LokrW2A),
    (".lokr_w2_b", Role::LokrW2B),
    (".lokr_w1", Role::LokrW1),
    (".lokr_w2", Role::LokrW2),
    (".lokr_t2", Role::LokrT2),
    (".alpha", Role::Alpha),
    (".dora_scale", Role::DoraScale),
    (".diff", Role::Diff),
    (".w_norm", Role::Diff),
    (".diff_b", Role::DiffBias),
    (".b_norm", Role::DiffBias),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Role {
    Up,
    Down,
    Mid,
    HadaW1A,
    HadaW1B,
    HadaW2A,
    HadaW2B,
    HadaT1,
    HadaT2,
    LokrW1,
    LokrW1A,
    LokrW1B,
    LokrW2,
    LokrW2A,
    LokrW2B,
    LokrT2,
    Alpha,
    DoraScale,
    Diff,
    DiffBias,
}

/// The tensors of one module, by role, with their original names.
#[derive(Debug, Default)]
pub struct Module {
    tensors: HashMap<Role, (String, Tensor)>,
}

/// A file's tensors grouped by module name (sorted), plus the tensors that
/// belong to no module.
pub fn group(tensors: HashMap<String, Tensor>) -> (BTreeMap<String, Module>, Vec<String>) {
    let mut modules: BTreeMap<String, Module> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (name, tensor) in tensors {
        match ROLES
            .iter()
            .find_map(|(suffix, role)| Some((name.strip_suffix(suffix)?, *role)))
        {
            Some((module, role)) => {
                let module = module.to_string();
                let entry = modules.entry(module).or_default();
                entry.tensors.insert(role, (name, tensor));
            }
            None => unknown.push(name),
        }
    }
    unknown.sort();
    (modules, unknown)
}

impl Module {
    fn get(&self, role: Role) -> Option<&Tensor> {
        self.tensors.get(&role).map(|(_, t)| t)
    }

    fn need(&self, role: Role, what: &str) -> Result<Tensor, String> {
        self.get(role)
            .cloned()
            .ok_or_else(|| format!("{what} is missing"))
    }

    /// A bias difference (`.diff_b`), which patches `<target>.bias`.
    pub fn bias_diff(&self) -> Option<Tensor> {
        self.get(Role::DiffBias).cloned()
    }

    /// The module's weight adapter, ComfyUI's precedence: LoRA, LoHa, LoKr,
    /// then a full diff. `Ok(None)` for a module with only a bias diff.
    pub fn adapter(&self) -> Result<Option<Adapter>, String> {
        let alpha = self.alpha()?;
        let dora_scale = self.get(Role::DoraScale).cloned();
        if self.get(Role::Up).is_some() {
            return Ok(Some(Adapter::Lora {
                up: self.need(Role::Up, "the up matrix")?,
                down: self.need(Role::Down, "the down matrix")?,
                mid: self.get(Role::Mid).cloned(),
                alpha,
                dora_scale,
            }));
        }
        if self.get(Role::HadaW1A).is_some() {
            let t = match (self.get(Role::HadaT1), self.get(Role::HadaT2)) {
                (Some(t1), Some(t2)) => Some((t1.clone(), t2.clone())),
                (None, None) => None,
                _ => return Err("hada_t1 and hada_t2 must come together".into()),
            };
            return Ok(Some(Adapter::LoHa {
                w1a: self.need(Role::HadaW1A, "hada_w1_a")?,
                w1b: self.need(Role::HadaW1B, "hada_w1_b")?,
                w2a: self.need(Role::HadaW2A, "hada_w2_a")?,
                w2b: self.need(Role::HadaW2B, "hada_w2_b")?,
                t,
                alpha,
                dora_scale,
            }));
        }
        if let Some(adapter) = self.lokr(alpha, dora_scale)? {
            return Ok(Some(adapter));
        }
        if let Some(diff) = self.get(Role::Diff) {
            return Ok(Some(Adapter::Diff(diff.clone())));
        }
        if self.get(Role::DiffBias).is_some() {
            return Ok(None);
        }
        Err(match self.get(Role::Down).or(self.get(Role::HadaW1B)) {
            Some(_) => "a down matrix without its up matrix".into(),
            None => "no weight tensors (only alpha or dora_scale)".into(),
        })
    }

    fn lokr(
        &self,
        alpha: Option<f64>,
        dora_scale: Option<Tensor>,
    ) -> Result<Option<Adapter>, String> {
        let any = [Role::LokrW1, Role::LokrW2, Role::LokrW1A, Role::LokrW2A];
        if !any.iter().any(|r| self.get(*r).is_some()) {
            return Ok(None);
        }
        let w1 = self.factor(Role::LokrW1, Role::LokrW1A, Role::LokrW1B, "lokr_w1")?;
        let w2 = self.factor(Role::LokrW2, Role::LokrW2A, Role::LokrW2B, "lokr_w2")?;
        Ok(Some(Adapter::LoKr {
            w1,
            w2,
            t2: self.get(Role::LokrT2).cloned(),
            alpha,
            dora_scale,
        }))
    }

    fn factor(&self, full: Role, a: Role, b: Role, name: &str) -> Result<Factor, String> {
        if let Some(w) = self.get(full) {
            return Ok(Factor::Full(w.clone()));
        }
        match (self.get(a), self.get(b)) {
            (Some(a), Some(b)) => Ok(Factor::Product(a.clone(), b.clone())),
            _ => Err(format!("{name} (or {name}_a and {name}_b) is missing")),
        }
    }

    /// `alpha` as ComfyUI reads it (`tensor.item()`, a Python float).
    fn alpha(&self) -> Result<Option<f64>, String> {
        let Some(alpha) = self.get(Role::Alpha) else {
            return Ok(None);
        };
        if alpha.elem_count() != 1 {
            return Err(format!("alpha has shape {:?}, not a scalar", alpha.dims()));
        }
        let value = alpha
            .flatten_all()
            .and_then(|a| a.to_dtype(candle_core::DType::F64))
            .and_then(|a| a.get(0))
            .and_then(|a| a.to_scalar::<f64>())
            .map_err(|e| format!("alpha unreadable: {e}"))?;
        Ok(Some(value))
    }
}
