//! Entities sheet: declarations (create/update/upsert) and `save_to`.

use serde_json::Value;

use crate::error::{err, msg, ConvertError};
use crate::headers::Dealiased;
use crate::xls2json::Obj;

#[derive(Debug, Default)]
pub struct Entities {
    pub declarations: Vec<(String, Obj, usize)>,
    pub saw_save_to: bool,
}

impl Entities {
    pub fn from_sheet(d: &Dealiased) -> Result<Self, ConvertError> {
        let allowed = [
            "dataset",
            "entity_id",
            "create_if",
            "update_if",
            "repeat",
            "label",
        ];
        let bad: Vec<String> = d
            .headers
            .iter()
            .filter(|h| !allowed.contains(&h[0].as_str()))
            .map(|h| format!("'{}'", h.join("::")))
            .collect();
        if !bad.is_empty() {
            return err(msg::header_005(&bad.join(", ")));
        }
        let mut out = Entities::default();
        for (i, row) in d.data.iter().enumerate() {
            let row_number = i + 2;
            let name = row.get("dataset").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                return err(msg::names_015(row_number));
            }
            if out.declarations.iter().any(|(n, _, _)| n == name) {
                return err(msg::names_014(row_number));
            }
            out.declarations
                .push((name.to_string(), row.clone(), row_number));
        }
        Ok(out)
    }

    pub fn has_dataset(&self, name: &str) -> bool {
        self.declarations.iter().any(|(n, _, _)| n == name)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn note_survey_row(
        &mut self,
        _container_path: &[String],
        _container_kinds: &[&'static str],
        row: &Obj,
        row_number: usize,
        _question_name: Option<&str>,
        _is_begin: bool,
        _is_end: bool,
    ) -> Result<(), ConvertError> {
        let save_to = row
            .get("bind")
            .and_then(Value::as_object)
            .and_then(|b| b.get("entities:saveto"))
            .and_then(Value::as_str);
        if save_to.is_some() {
            self.saw_save_to = true;
            if self.declarations.is_empty() {
                return err(format!("[row : {row_number}] On the 'survey' sheet, the 'save_to' value is invalid. To save entity properties using the save_to column, add an entities sheet and declare an entity."));
            }
        }
        Ok(())
    }

    pub fn apply(
        &mut self,
        _json: &mut Obj,
        _children: &mut Vec<Value>,
    ) -> Result<(), ConvertError> {
        Ok(())
    }
}
