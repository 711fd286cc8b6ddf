//! The query protocols against forms botocore's serializers write (pinned from botocore 1.44.5).

use serde_json::json;

use super::*;
use crate::asl::services::service;

fn form(svc: &str, action: &str, params: Value) -> Vec<(String, String)> {
    let model = service(svc).expect("model");
    let op = model.operation_for_action(action).expect("op");
    let request = build(&model, op, &params).expect("request");
    assert_eq!(request.method, "POST");
    form_urlencoded_pairs(&request.body)
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn sns_publish_flattens_its_message_attributes_map() {
    let got = form(
        "sns",
        "publish",
        json!({"TopicArn": "arn:t", "Message": "hi", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
    );
    assert_eq!(
        got,
        pairs(&[
            ("Action", "Publish"),
            ("Version", "2010-03-31"),
            ("TopicArn", "arn:t"),
            ("Message", "hi"),
            ("MessageAttributes.entry.1.Name", "k"),
            ("MessageAttributes.entry.1.Value.DataType", "String"),
            ("MessageAttributes.entry.1.Value.StringValue", "v"),
        ])
    );
}

#[test]
fn ec2_takes_its_own_member_names_and_flat_lists() {
    let got = form(
        "ec2",
        "describeInstances",
        json!({"Filters": [{"Name": "tag:by", "Values": ["a", "b"]}], "InstanceIds": ["i-1"]}),
    );
    assert_eq!(
        got,
        pairs(&[
            ("Action", "DescribeInstances"),
            ("Version", "2016-11-15"),
            ("Filter.1.Name", "tag:by"),
            ("Filter.1.Value.1", "a"),
            ("Filter.1.Value.2", "b"),
            ("InstanceId.1", "i-1"),
        ])
    );
    let got = form("ec2", "describeRegions", json!({"RegionNames": []}));
    assert_eq!(
        got,
        pairs(&[("Action", "DescribeRegions"), ("Version", "2016-11-15")])
    );
}

#[test]
fn query_lists_wrap_their_items_in_member() {
    let got = form(
        "iam",
        "createRole",
        json!({"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Tags": [{"Key": "a", "Value": "b"}]}),
    );
    assert_eq!(
        got,
        pairs(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", "{}"),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "b"),
        ])
    );
    let got = form(
        "sns",
        "setTopicAttributes",
        json!({"TopicArn": "t", "AttributeName": "a"}),
    );
    assert_eq!(got.len(), 4);
    let model = service("sns").expect("sns");
    let op = model.operation_for_action("publish").expect("op");
    let err = build(&model, op, &json!({"TopicArn": 5})).unwrap_err();
    assert_eq!(err, "parameter /TopicArn must be a string");
}

#[test]
fn answers_come_from_the_result_wrapper_or_the_root() {
    let sns = service("sns").expect("sns");
    let op = sns.operation_for_action("publish").expect("op");
    let body = br#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
      <PublishResult><MessageId>m-1</MessageId></PublishResult>
      <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>"#;
    let response = WireResponse {
        status: 200,
        headers: vec![],
        body: body.to_vec(),
    };
    assert_eq!(
        parse(&sns, op, &response).expect("result"),
        json!({"MessageId": "m-1"})
    );
    assert_eq!(xml::request_id(body).as_deref(), Some("r-1"));

    let ec2 = service("ec2").expect("ec2");
    let op = ec2.operation_for_action("describeRegions").expect("op");
    let body = br#"<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
      <requestId>r-2</requestId>
      <regionInfo>
        <item><regionName>us-east-1</regionName><regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>
        <item><regionName>eu-west-1</regionName><regionEndpoint>ec2.eu-west-1.amazonaws.com</regionEndpoint></item>
      </regionInfo></DescribeRegionsResponse>"#;
    let response = WireResponse {
        status: 200,
        headers: vec![],
        body: body.to_vec(),
    };
    assert_eq!(
        parse(&ec2, op, &response).expect("result"),
        json!({"Regions": [
            {"Endpoint": "ec2.us-east-1.amazonaws.com", "RegionName": "us-east-1", "OptInStatus": "opt-in-not-required"},
            {"Endpoint": "ec2.eu-west-1.amazonaws.com", "RegionName": "eu-west-1"}
        ]})
    );

    let iam = service("iam").expect("iam");
    let op = iam.operation_for_action("getRole").expect("op");
    let body = br#"<GetRoleResponse><GetRoleResult><Role>
      <RoleName>r</RoleName><Arn>arn:aws:iam::1:role/r</Arn><RoleId>AROA</RoleId><Path>/</Path>
      <CreateDate>2024-01-02T03:04:05Z</CreateDate><MaxSessionDuration>3600</MaxSessionDuration>
      <Tags><member><Key>a</Key><Value>b</Value></member></Tags>
      </Role></GetRoleResult></GetRoleResponse>"#;
    let response = WireResponse {
        status: 200,
        headers: vec![],
        body: body.to_vec(),
    };
    let role = &parse(&iam, op, &response).expect("result")["Role"];
    assert_eq!(role["CreateDate"], json!("2024-01-02T03:04:05Z"));
    assert_eq!(role["MaxSessionDuration"], json!(3600));
    assert_eq!(role["Tags"], json!([{"Key": "a", "Value": "b"}]));
}
