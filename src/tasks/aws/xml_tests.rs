//! XML reading and writing against bodies botocore writes and S3 answers.

use serde_json::json;

use super::*;
use crate::asl::services::service;

#[test]
fn a_document_becomes_a_tree_with_entities_decoded() {
    let root = parse(br#"<?xml version="1.0"?><a:R xmlns:a="u" k="v&amp;w"><!-- c --><B>x &lt; y &#65;&#x42;</B><C><![CDATA[<raw>]]></C><D/></a:R>"#)
        .expect("xml");
    assert_eq!(root.name, "R");
    assert!(root.attributes.contains(&("k".into(), "v&w".into())));
    assert_eq!(root.child("B").map(|b| b.text.as_str()), Some("x < y AB"));
    assert_eq!(root.child("C").map(|c| c.text.as_str()), Some("<raw>"));
    assert!(root.child("D").is_some());
    assert!(parse(b"<a><b></a>").is_err());
    assert!(parse(b"not xml").is_err());
    assert!(parse(b"").is_err());
}

#[test]
fn list_objects_decodes_flattened_lists_timestamps_and_numbers() {
    let s3 = service("s3").expect("s3");
    let op = s3.operation_for_action("listObjectsV2").expect("op");
    let shape = s3
        .shape(&op.output.as_ref().expect("out").shape)
        .expect("shape");
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
  <Contents><Key>p/1</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>11</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>p/2</Key><LastModified>2024-01-02T03:04:06.500Z</LastModified><ETag>&quot;e2&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>
</ListBucketResult>"#;
    let value = decode(&s3, shape, &parse(body).expect("xml"));
    assert_eq!(value["Name"], json!("b"));
    assert_eq!(value["KeyCount"], json!(2));
    assert_eq!(value["IsTruncated"], json!(false));
    assert_eq!(
        value["Contents"],
        json!([
            {"Key": "p/1", "LastModified": "2024-01-02T03:04:05Z", "ETag": "\"e1\"", "Size": 11, "StorageClass": "STANDARD"},
            {"Key": "p/2", "LastModified": "2024-01-02T03:04:06.500Z", "ETag": "\"e2\"", "Size": 0, "StorageClass": "STANDARD"}
        ])
    );
}

fn payload(action: &str, member: &str, value: serde_json::Value) -> String {
    let s3 = service("s3").expect("s3");
    let op = s3.operation_for_action(action).expect("op");
    let input = s3
        .shape(&op.input.as_ref().expect("in").shape)
        .expect("shape");
    let (_, m) = input.member(member).expect("member");
    let target = s3.shape(&m.shape).expect("target");
    String::from_utf8(encode_payload(&s3, m, target, &value, "").expect("body")).expect("utf8")
}

#[test]
fn request_bodies_are_what_botocore_writes() {
    assert_eq!(
        payload(
            "putBucketTagging",
            "Tagging",
            json!({"TagSet": [{"Key": "k", "Value": "v"}]})
        ),
        r#"<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"#
    );
    assert_eq!(
        payload(
            "createBucket",
            "CreateBucketConfiguration",
            json!({"LocationConstraint": "eu-west-1"})
        ),
        r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"#
    );
    assert_eq!(
        payload(
            "deleteObjects",
            "Delete",
            json!({"Objects": [{"Key": "a&b"}, {"Key": "c"}], "Quiet": true})
        ),
        r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object><Quiet>true</Quiet></Delete>"#
    );
}

#[test]
fn error_bodies_of_each_protocol() {
    let s3 = br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key><RequestId>r</RequestId></Error>"#;
    assert_eq!(
        error(s3),
        Some(WireError {
            code: "NoSuchKey".into(),
            message: "The specified key does not exist.".into()
        })
    );
    let query = br#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>r2</RequestId></ErrorResponse>"#;
    assert_eq!(error(query).map(|e| e.code), Some("NotFound".into()));
    assert_eq!(request_id(query).as_deref(), Some("r2"));
    let ec2 = br#"<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-1' does not exist</Message></Error></Errors><RequestID>r3</RequestID></Response>"#;
    assert_eq!(
        error(ec2).map(|e| e.code),
        Some("InvalidVpcID.NotFound".into())
    );
    assert_eq!(request_id(ec2).as_deref(), Some("r3"));
    assert_eq!(error(b"{}"), None);
}
