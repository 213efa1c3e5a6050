//! The question type dictionary: default control tag and bind attributes per type.

pub struct QType {
    pub control: &'static [(&'static str, &'static str)],
    pub bind: &'static [(&'static str, &'static str)],
    pub hint: Option<&'static str>,
}

const fn q(
    control: &'static [(&'static str, &'static str)],
    bind: &'static [(&'static str, &'static str)],
) -> QType {
    QType {
        control,
        bind,
        hint: None,
    }
}

const INPUT: &[(&str, &str)] = &[("tag", "input")];
const S: &[(&str, &str)] = &[("type", "string")];

pub fn lookup(t: &str) -> Option<QType> {
    Some(match t {
        "q picture" | "photo" | "add image prompt" | "q image" | "image" => q(
            &[("tag", "upload"), ("mediatype", "image/*")],
            &[("type", "binary")],
        ),
        "add date time prompt"
        | "q date time"
        | "datetime"
        | "dateTime"
        | "add dateTime prompt"
        | "q dateTime"
        | "date time" => q(INPUT, &[("type", "dateTime")]),
        "add audio prompt" | "q audio" | "audio" => q(
            &[("tag", "upload"), ("mediatype", "audio/*")],
            &[("type", "binary")],
        ),
        "phonenumber" | "get phone number" => q(
            &[],
            &[
                ("jr:preload", "property"),
                ("type", "string"),
                ("jr:preloadParams", "phonenumber"),
            ],
        ),
        "get start time" | "start" | "start time" => q(
            &[],
            &[
                ("jr:preload", "timestamp"),
                ("type", "dateTime"),
                ("jr:preloadParams", "start"),
            ],
        ),
        "get end time" | "end time" | "end" => q(
            &[],
            &[
                ("jr:preload", "timestamp"),
                ("type", "dateTime"),
                ("jr:preloadParams", "end"),
            ],
        ),
        "add select multiple prompt using"
        | "select all that apply from"
        | "select all that apply"
        | "select multiple from"
        | "q select"
        | "select multiple using" => q(&[("tag", "select")], S),
        "add note prompt" | "q note" | "note" => {
            q(INPUT, &[("readonly", "true()"), ("type", "string")])
        }
        "calculate" | "q calculate" | "add calculate prompt" | "hidden" => q(&[], S),
        "acknowledge" | "q acknowledge" | "add acknowledge prompt" => q(&[("tag", "trigger")], S),
        "location" | "q geopoint" | "q location" | "geopoint" | "gps" | "add location prompt" => {
            q(INPUT, &[("type", "geopoint")])
        }
        "text" | "string" | "q string" | "add text prompt" => q(INPUT, S),
        "simserial" | "get sim id" | "sim id" => q(
            &[],
            &[
                ("jr:preload", "property"),
                ("type", "string"),
                ("jr:preloadParams", "simserial"),
            ],
        ),
        "imei" | "device id" | "deviceid" | "get device id" => q(
            &[],
            &[
                ("jr:preload", "property"),
                ("type", "string"),
                ("jr:preloadParams", "deviceid"),
            ],
        ),
        "subscriber id" | "subscriberid" | "get subscriber id" => q(
            &[],
            &[
                ("jr:preload", "property"),
                ("type", "string"),
                ("jr:preloadParams", "subscriberid"),
            ],
        ),
        "integer" | "q int" | "add integer prompt" | "int" => q(INPUT, &[("type", "int")]),
        "decimal" | "q decimal" | "add decimal prompt" => q(INPUT, &[("type", "decimal")]),
        "q geoshape" | "geoshape" => q(INPUT, &[("type", "geoshape")]),
        "q geotrace" | "geotrace" => q(INPUT, &[("type", "geotrace")]),
        "get today" | "today" => q(
            &[],
            &[
                ("jr:preload", "date"),
                ("type", "date"),
                ("jr:preloadParams", "today"),
            ],
        ),
        "video" | "q video" | "add video prompt" => q(
            &[("tag", "upload"), ("mediatype", "video/*")],
            &[("type", "binary")],
        ),
        "number of days in last month" => QType {
            control: INPUT,
            bind: &[("type", "int"), ("constraint", "0 <= . and . <= 31")],
            hint: Some("Enter a number 0-31."),
        },
        "number of days in last six months" => QType {
            control: INPUT,
            bind: &[("type", "int"), ("constraint", "0 <= . and . <= 183")],
            hint: Some("Enter a number 0-183."),
        },
        "number of days in last year" => QType {
            control: INPUT,
            bind: &[("type", "int"), ("constraint", "0 <= . and . <= 365")],
            hint: Some("Enter a number 0-365."),
        },
        "percentage" => q(
            INPUT,
            &[("type", "int"), ("constraint", "0 <= . and . <= 100")],
        ),
        "phone number" => QType {
            control: INPUT,
            bind: &[("type", "string"), ("constraint", "regex(., '^\\d*$')")],
            hint: Some("Enter numbers only."),
        },
        "select one" | "select one using" | "q select1" | "add select one prompt using" => {
            q(&[("tag", "select1")], S)
        }
        "select one external" => q(INPUT, S),
        "barcode" | "q barcode" | "add barcode prompt" => q(INPUT, &[("type", "barcode")]),
        "rank" => q(&[("tag", "odk:rank")], &[("type", "odk:rank")]),
        "add date prompt" | "q date" | "date" => q(INPUT, &[("type", "date")]),
        "trigger" => q(&[("tag", "trigger")], &[]),
        "time" => q(INPUT, &[("type", "time")]),
        "uri:subscriberid" | "uri:phonenumber" | "uri:simserial" | "uri:deviceid" | "username"
        | "uri:username" | "email" | "uri:email" => {
            let p: &'static [(&'static str, &'static str)] = match t {
                "uri:subscriberid" => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "uri:subscriberid"),
                ],
                "uri:phonenumber" => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "uri:phonenumber"),
                ],
                "uri:simserial" => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "uri:simserial"),
                ],
                "uri:deviceid" => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "uri:deviceid"),
                ],
                "username" => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "username"),
                ],
                "uri:username" => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "uri:username"),
                ],
                "email" => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "email"),
                ],
                _ => &[
                    ("jr:preload", "property"),
                    ("type", "string"),
                    ("jr:preloadParams", "uri:email"),
                ],
            };
            q(&[], p)
        }
        "osm" => q(
            &[("tag", "upload"), ("mediatype", "osm/*")],
            &[("type", "binary")],
        ),
        "file" | "add file prompt" => q(
            &[("tag", "upload"), ("mediatype", "application/*")],
            &[("type", "binary")],
        ),
        "range" => q(&[("tag", "range")], &[("type", "int")]),
        "audit" => q(&[], &[("type", "binary")]),
        "xml-external" | "csv-external" => q(&[], &[]),
        "start-geopoint" => q(&[("tag", "action")], &[("type", "geopoint")]),
        "background-audio" => q(&[("tag", "action")], &[("type", "binary")]),
        "background-geopoint" => q(&[("tag", "trigger")], &[("type", "geopoint")]),
        _ => return None,
    })
}
