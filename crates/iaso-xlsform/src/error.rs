//! Conversion errors.

/// Why a form could not be converted.
///
/// The `Display` text is the user-facing message. Messages about the form's
/// content follow the reference wording and name the sheet, row and column
/// where relevant, e.g. `[row : 3] On the 'survey' sheet, the 'name' value ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The bytes could not be read as a workbook (not a zip, corrupt, not UTF-8 CSV...).
    #[error("{0}")]
    Read(String),
    /// The workbook exceeds a size limit (zip bomb, huge sheet...).
    #[error("{0}")]
    Limit(String),
    /// The form content is invalid.
    #[error("{0}")]
    Form(String),
}

impl ConvertError {
    pub(crate) fn read(msg: String) -> Self {
        ConvertError::Read(msg)
    }
}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, ConvertError> {
    Err(ConvertError::Form(msg.into()))
}

pub(crate) fn row_str(row: Option<usize>) -> String {
    match row {
        Some(r) => r.to_string(),
        None => "unknown".to_string(),
    }
}

/// Error message templates (wording follows the reference converter).
pub(crate) mod msg {
    use super::row_str;

    pub fn names_001(row: Option<usize>, value: &str) -> String {
        format!("[row : {}] On the 'survey' sheet, the 'name' value '{value}' is invalid. Questions, groups, and repeats must be unique within their nearest parent group or repeat, or the survey if not inside a group or repeat.", row_str(row))
    }
    pub fn names_002(row: Option<usize>, value: &str) -> String {
        format!("[row : {}] On the 'survey' sheet, the 'name' value '{value}' is problematic. The name is a case-insensitive match to another name. Questions, groups, and repeats should be unique within the nearest parent group or repeat, or the survey if not inside a group or repeat. Some data processing tools are not case-sensitive, so the current names may make analysis difficult.", row_str(row))
    }
    pub fn names_003(row: Option<usize>, value: &str) -> String {
        format!("[row : {}] On the 'survey' sheet, the 'name' value '{value}' is invalid. Repeat names must not be the same as the survey root (which defaults to 'data').", row_str(row))
    }
    pub fn names_004(row: Option<usize>, value: &str) -> String {
        format!("[row : {}] On the 'survey' sheet, the 'name' value '{value}' is invalid. Repeat names must unique anywhere in the survey, at all levels of group or repeat nesting.", row_str(row))
    }
    pub fn names_005(row: Option<usize>) -> String {
        format!("[row : {}] On the 'survey' sheet, the 'name' value 'meta' is invalid. The name 'meta' is reserved for form metadata.", row_str(row))
    }
    pub fn names_006(row: usize) -> String {
        format!("[row : {row}] On the 'choices' sheet, the 'name' value is invalid. Choices must have a name. Learn more: https://xlsform.org/en/#setting-up-your-worksheets")
    }
    pub fn names_007(row: usize) -> String {
        format!("[row : {row}] On the 'choices' sheet, the 'name' value is invalid. Choice names must be unique for each choice list. If this is intentional, use the setting 'allow_choice_duplicates'. Learn more: https://xlsform.org/#choice-names.")
    }
    pub fn names_008(sheet: &str, row: Option<usize>, column: &str) -> String {
        format!("[row : {}] On the '{sheet}' sheet, the '{column}' value is invalid. Names must begin with a letter or underscore. After the first character, names may contain letters, digits, underscores, hyphens, or periods.", row_str(row))
    }
    pub fn names_009(name: &str) -> String {
        format!("The '{name}' value is invalid. Names must begin with a letter or underscore. After the first character, names may contain letters, digits, underscores, hyphens, or periods.")
    }
    pub fn names_010(sheet: &str, row: usize, column: &str) -> String {
        format!("[row : {row}] On the '{sheet}' sheet, the '{column}' value is invalid. Names used here must not begin with two underscores.")
    }
    pub fn names_011(sheet: &str, row: usize, column: &str) -> String {
        format!("[row : {row}] On the '{sheet}' sheet, the '{column}' value is invalid. Names used here must not contain a period.")
    }
    pub fn names_012(sheet: &str, row: usize, column: &str) -> String {
        format!("[row : {row}] On the '{sheet}' sheet, the '{column}' value is invalid. Names used here must not be 'name' or 'label' (case-insensitive).")
    }
    pub fn names_013(sheet: &str, candidates: &str) -> String {
        format!("When looking for a sheet named '{sheet}', the following sheets with similar names were found: {candidates}.")
    }
    pub fn names_014(row: usize) -> String {
        format!("[row : {row}] On the 'entities' sheet, the 'list_name' value is invalid. The 'list_name' column must not have any duplicate names.")
    }
    pub fn names_015(row: usize) -> String {
        format!("[row : {row}] On the 'entities' sheet, the 'list_name' value is invalid. Entity lists must have a name.")
    }
    pub fn pyref_001(sheet: &str, row: Option<usize>, column: &str) -> String {
        format!("[row : {}] On the '{sheet}' sheet, the '{column}' value is invalid. Reference variables must start with '${{', then a question name, and end with '}}'.", row_str(row))
    }
    pub fn pyref_002(sheet: &str, row: Option<usize>, column: &str) -> String {
        format!("[row : {}] On the '{sheet}' sheet, the '{column}' value is invalid. Reference variable lists must have a comma between each variable.", row_str(row))
    }
    pub fn pyref_003(sheet: &str, row: Option<usize>, column: &str, q: &str) -> String {
        format!("[row : {}] On the '{sheet}' sheet, the '{column}' value is invalid. Reference variables must contain a name from the 'survey' sheet. Could not find the name '{q}'.", row_str(row))
    }
    pub fn pyref_004(sheet: &str, row: Option<usize>, column: &str, q: &str) -> String {
        format!("[row : {}] On the '{sheet}' sheet, the '{column}' value is invalid. Reference variables names must be unique anywhere in the 'survey'. The name '{q}' appears more than once.", row_str(row))
    }
    pub fn header_001(sheet: &str, header: &str) -> String {
        format!("Invalid headers provided for sheet: '{sheet}'. For XLSForms, this may be due a missing header row, in which case add a header row as per the reference template https://xlsform.org/en/ref-table/. For internal API usage, may be due to a missing mapping for '{header}', in which case ensure that the full set of headers appear within the first 100 rows, or specify the header row in '{sheet}_header'.")
    }
    pub fn header_002(sheet: &str, other: &str, header: &str) -> String {
        format!("Invalid headers provided for sheet: '{sheet}'. Headers that are different names for the same column were found: '{other}', '{header}'. Rename or remove one of these columns.")
    }
    pub fn header_003(sheet: &str, missing: &str) -> String {
        format!("Invalid headers provided for sheet: '{sheet}'. One or more required column headers were not found: {missing}. Learn more: https://xlsform.org/en/#setting-up-your-worksheets")
    }
    pub fn header_004(column: &str) -> String {
        format!("[row : 1] On the 'choices' sheet, the '{column}' value is invalid. Column headers must not be empty and must not contain spaces. Learn more: https://xlsform.org/en/#setting-up-your-worksheets")
    }
    pub fn header_005(columns: &str) -> String {
        format!("[row : 1] On the 'entities' sheet, one or more column names are invalid. The following column(s) are not supported by this version of pyxform: {columns}. Please either: check the spelling of the column names, remove the columns, or update pyxform.")
    }
    pub fn label_001(row: usize) -> String {
        format!("[row : {row}] On the 'choices' sheet, the 'label' value is invalid. Choices should have a label. Learn more: https://xlsform.org/en/#setting-up-your-worksheets")
    }
    pub fn survey_001(row: Option<usize>, ty: &str, name: Option<&str>) -> String {
        format!("[row : {}] Unmatched 'end_{ty}'. No matching 'begin_{ty}' was found for the name '{}'.", row_str(row), name.unwrap_or("unknown"))
    }
    pub fn survey_002(row: Option<usize>, ty: &str, name: Option<&str>) -> String {
        format!("[row : {}] Unmatched 'begin_{ty}'. No matching 'end_{ty}' was found for the name '{}'.", row_str(row), name.unwrap_or("unknown"))
    }
    pub fn survey_004(row: usize) -> String {
        format!("[row : {row}] On the 'survey' sheet, the 'parameters' value is invalid. Parameters must be in the form of 'key1=value1 key2=value2.")
    }
    pub fn survey_005(row: usize, accepted: &str, rejected: &str) -> String {
        format!("[row : {row}] On the 'survey' sheet, the 'parameters' value is invalid. The accepted parameter keys for this question type are '{accepted}'. The following are invalid parameter key(s): '{rejected}'.")
    }
    pub fn survey_006(row: usize) -> String {
        format!("[row : {row}] On the 'survey' sheet, the 'parameters' value is invalid. The 'reference-geometry' parameter must either match a secondary instance name (a choices list_name, an entities list_name, or the base name of an attached file), or be a reference variable containing the name of a repeat.")
    }
    pub fn survey_007(row: usize) -> String {
        format!("[row : {row}] On the 'survey' sheet, the 'parameters' value is invalid. The 'capture-accuracy' parameter must have a numeric value.")
    }
    pub fn survey_008(row: usize) -> String {
        format!("[row : {row}] On the 'survey' sheet, the 'parameters' value is invalid. The 'warning-accuracy' parameter must have a numeric value.")
    }
    pub fn survey_009(row: usize) -> String {
        format!("[row : {row}] On the 'survey' sheet, the 'parameters' value is invalid. The 'allow-mock-accuracy' parameter must be either 'true' or 'false'.")
    }
}
