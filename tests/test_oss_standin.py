"""The OSS stand-in through the official SDK (alibabacloud_oss_v2), unmodified, over loopback HTTP with real V4
signatures; raw requests (signed by the SDK's own signer) where the SDK cannot send what a case needs."""

import base64
import hashlib
import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.utils import format_datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

import alibabacloud_oss_v2 as oss
import pytest
import requests
from alibabacloud_oss_v2.crc import Crc64
from alibabacloud_oss_v2.signer import SignerV4
from alibabacloud_oss_v2.types import HttpRequest, SigningContext

from dwtrigger.ops.emulator import OssStandIn
from dwtrigger.ops.emulator.oss_errors import OssError
from dwtrigger.ops.emulator.oss_signature import parse_authorization, verify_v4
from dwtrigger.ops.emulator.signature import Key, Keys
from standins import AK, SECRET, client, wait_until

STS = ("STS.osskey", "sts-secret", "sts-token-0123456789")
BUCKET, BEIJING = "etl-landing", "archive-beijing"
SUCCESS = "exports/orders/dt=2026-03-11/_SUCCESS"
ODD_KEYS = ["数据/订单 2026-03-11.csv", "with space/and+plus", "100%/a%2Fb%zz", "tilde~star*quote'(paren)!",
            "emoji 🎉/x.json", "amp&lt<gt>.txt"]
SEED = {
    "keys": [{"access_key_id": AK, "access_key_secret": SECRET},
             dict(zip(("access_key_id", "access_key_secret", "security_token"), STS))],
    "buckets": [{"name": BUCKET, "objects": [SUCCESS, *ODD_KEYS]},
                {"name": BEIJING, "region": "cn-beijing", "objects": ["x"]}],
}
EMPTY_ETAG = '"D41D8CD98F00B204E9800998ECF8427E"'
CALL_FIELDS = {"operation", "method", "bucket", "key", "params", "status", "code", "fault", "access_key_id",
               "monotonic"}
REDIRECT = "Emulator.Injected.Redirect"


@pytest.fixture(scope="module")
def standin():
    with OssStandIn(SEED) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(standin):
    standin.reset()


def head(c, key, bucket=BUCKET, **kw):
    return c.head_object(oss.HeadObjectRequest(bucket=bucket, key=key, **kw))


def pages(c, bucket=BUCKET, **kw):
    return list(c.list_objects_v2_paginator().iter_page(oss.ListObjectsV2Request(bucket=bucket, **kw)))


def listed(c, **kw):
    return [o.key for page in pages(c, **kw) for o in page.contents or ()]


def refused(call, code, status, ec=""):
    """The SDK's OperationError around a ServiceError with exactly this code, status and EC."""
    with pytest.raises(oss.exceptions.OperationError) as info:
        call()
    error = info.value.unwrap()
    assert type(error) is oss.exceptions.ServiceError
    assert (error.code, error.status_code, error.ec) == (code, status, ec)
    return error


def failed(call, kind):
    """The SDK's OperationError around a transport error of exactly this kind (RequestError, ResponseError)."""
    with pytest.raises(oss.exceptions.OperationError) as info:
        call()
    assert type(info.value.unwrap()) is kind
    return info.value.unwrap()


def signed(standin, method, bucket, key=None, query="", headers=None, ak=AK, secret=SECRET, token=None,
           region="cn-shanghai", product="oss", additional=None, when=None) -> HttpRequest:
    """A request signed by the SDK's own V4 signer, for raw sending (and tampering) with `send`."""
    url = f"{standin.url}/{bucket}/{quote(key) if key else ''}" + (f"?{query}" if query else "")
    request = HttpRequest(method, url)
    request.headers.update(headers or {})
    credentials = oss.credentials.StaticCredentialsProvider(ak, secret, token).get_credentials()
    SignerV4().sign(SigningContext(product=product, region=region, bucket=bucket, key=key, request=request,
                                   credentials=credentials, signing_time=when, additional_headers=additional))
    return request


def send(request: HttpRequest, url=None, data=None, method=None) -> requests.Response:
    return requests.request(method or request.method, url or request.url, headers=dict(request.headers), data=data,
                            timeout=10, allow_redirects=False)


def error_fields(body: bytes) -> dict:
    root = ET.fromstring(body)
    assert root.tag == "Error"
    return {child.tag: child.text for child in root}


# --- HeadObject, GetObjectMeta --------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [SUCCESS, *ODD_KEYS])
def test_head_and_exists_for_present_and_absent_keys(standin, key):
    c = client(standin)
    assert c.is_object_exist(BUCKET, key) is True
    result = head(c, key)
    assert (result.status_code, result.content_length, result.etag) == (200, 0, EMPTY_ETAG)
    assert (result.object_type, result.storage_class, result.hash_crc64) == ("Normal", "Standard", "0")
    assert len(result.request_id) == 24
    absent = key + "~"
    assert c.is_object_exist(BUCKET, absent) is False
    error = refused(lambda: head(c, absent), "NoSuchKey", 404, "0026-00000001")
    assert (error.message, error.request_id) == ("The specified key does not exist.", error.headers["x-oss-request-id"])
    assert [(x["operation"], x["method"], x["key"], x["params"], x["status"], x["code"]) for x in standin.calls] == [
        ("GetObjectMeta", "HEAD", key, {"objectMeta": ""}, 200, None),
        ("HeadObject", "HEAD", key, {}, 200, None),
        ("GetObjectMeta", "HEAD", absent, {"objectMeta": ""}, 404, "NoSuchKey"),
        ("HeadObject", "HEAD", absent, {}, 404, "NoSuchKey")]


def test_a_percent_in_a_key_is_decoded_once(standin):
    c = client(standin)
    assert c.is_object_exist(BUCKET, "100%/a%2Fb%zz") is True
    assert c.is_object_exist(BUCKET, "100%/a/b%zz") is False      # %2F stays three characters of the key
    assert c.is_object_exist(BUCKET, "100%25/a%252Fb%25zz") is False


def test_a_landed_object_becomes_visible(standin):
    c = client(standin)
    key = "exports/orders/dt=2026-03-12/_SUCCESS"
    assert c.is_object_exist(BUCKET, key) is False
    before = datetime.now(timezone.utc).replace(microsecond=0)
    standin.put(BUCKET, key)
    after = datetime.now(timezone.utc)
    assert c.is_object_exist(BUCKET, key) is True
    assert before <= head(c, key).last_modified <= after
    assert listed(c, prefix="exports/orders/") == [SUCCESS, key]
    assert standin.objects(BUCKET) == sorted([SUCCESS, key, *ODD_KEYS])
    standin.remove(BUCKET, key)
    assert c.is_object_exist(BUCKET, key) is False


def test_admin_routes_land_remove_and_list_objects_and_name_what_they_refuse(standin):
    def admin(method, route, data=None, **headers):
        answer = requests.request(method, f"{standin.url}/_admin/{route}", data=data, headers=headers, timeout=5)
        return answer.status_code, answer.json()

    body = b"x,y\n"
    status, landed = admin("PUT", f"objects/{BUCKET}/{quote('数据/a b+c.csv')}", body, **{"Content-Type": "text/csv"})
    assert (status, landed["key"], landed["size"], landed["etag"]) == (
        200, "数据/a b+c.csv", 4, f'"{hashlib.md5(body).hexdigest().upper()}"')
    got = client(standin).get_object(oss.GetObjectRequest(bucket=BUCKET, key="数据/a b+c.csv"))
    assert (got.body.content, got.content_type, got.etag) == (b"x,y\n", "text/csv", landed["etag"])
    seeded = head(client(standin, region="cn-beijing"), "x", bucket=BEIJING).last_modified
    assert admin("GET", f"objects?bucket={BEIJING}") == (200, {"buckets": [BEIJING, BUCKET], "objects": [
        {"bucket": BEIJING, "key": "x", "size": 0, "etag": EMPTY_ETAG,
         "last_modified": f"{seeded.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"}]})
    assert admin("DELETE", f"objects/{BUCKET}/{quote('数据/a b+c.csv')}") == (200, {"removed": True})
    assert admin("DELETE", f"objects/{BUCKET}/{quote('数据/a b+c.csv')}") == (200, {"removed": False})
    assert admin("PUT", "objects/no-such-bucket/k", b"") == (404, {"error": "no bucket 'no-such-bucket' in the seed"})
    assert admin("PUT", f"objects/{BUCKET}/", b"")[0] == 400                   # no key
    assert admin("POST", "faults", b"{}") == (404, {"error": "no admin route POST /_admin/faults"})
    assert [c["operation"] for c in standin.calls] == ["GetObject", "HeadObject"]   # admin requests are no API calls


def test_reset_restores_the_seed(standin):
    c = client(standin)
    standin.put(BUCKET, "new")
    standin.remove(BUCKET, SUCCESS)
    assert c.is_object_exist(BUCKET, "new") is True and c.is_object_exist(BUCKET, SUCCESS) is False
    standin.set_faults(script=["ok", "error"])
    assert c.is_object_exist(BUCKET, "new") is True     # "ok" used; "error" is next
    standin.reset()
    assert standin.objects(BUCKET) == sorted([SUCCESS, *ODD_KEYS]) and standin.objects(BEIJING) == ["x"]
    assert standin.calls == [] and standin.decoy_calls == []
    assert c.is_object_exist(BUCKET, SUCCESS) is True          # the scripted error is gone too
    with pytest.raises(KeyError):
        standin.put("no-such-bucket", "k")
    with pytest.raises(ValueError):
        standin.put(BUCKET, "/leading-slash")


# --- ListObjectsV2 --------------------------------------------------------------------------------------------

def test_list_with_prefix_and_odd_keys(standin):
    c = client(standin)
    assert listed(c) == sorted([SUCCESS, *ODD_KEYS])
    assert listed(c, prefix="exports/") == [SUCCESS]
    assert listed(c, prefix="数据/") == ["数据/订单 2026-03-11.csv"]
    assert listed(c, prefix="with space/and+") == ["with space/and+plus"]
    assert listed(c, prefix="nothing/") == []
    (page,) = pages(c, prefix="100%/")
    (item,) = page.contents
    assert (page.name, page.prefix, page.max_keys, page.key_count, page.is_truncated) == \
        (BUCKET, "100%/", 100, 1, False)
    assert (item.key, item.size, item.etag, item.storage_class, item.object_type) == \
        ("100%/a%2Fb%zz", 0, EMPTY_ETAG, "Standard", "Normal")
    assert item.last_modified.tzinfo is not None
    assert standin.calls[-1]["params"] == {"encoding-type": "url", "list-type": "2", "prefix": "100%/"}


def test_paging_over_continuation_tokens(standin):
    c = client(standin)
    bulk = [f"bulk/{i:05d}" for i in range(2500)]
    for key in bulk:
        standin.put(BUCKET, key)
    result = pages(c, prefix="bulk/", max_keys=1000)
    assert [len(p.contents) for p in result] == [1000, 1000, 500]
    assert [(p.key_count, p.is_truncated, p.max_keys) for p in result] == \
        [(1000, True, 1000), (1000, True, 1000), (500, False, 1000)]
    assert [o.key for p in result for o in p.contents] == bulk
    assert result[-1].next_continuation_token is None
    tokens = [call["params"].get("continuation-token") for call in standin.calls]
    assert tokens == [None, result[0].next_continuation_token, result[1].next_continuation_token]
    assert [p.continuation_token for p in result] == tokens
    first = c.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, prefix="bulk/"))
    assert (len(first.contents), first.max_keys, first.is_truncated) == (100, 100, True)


def test_delimiter_rolls_up_common_prefixes_across_pages(standin):
    c = client(standin)
    for key in ["tree/a/1", "tree/a/2", "tree/b/1", "tree/c", "tree/d/x/y", "tree/e"]:
        standin.put(BUCKET, key)
    result = pages(c, prefix="tree/", delimiter="/", max_keys=2)
    assert [([o.key for o in p.contents or ()], [x.prefix for x in p.common_prefixes or ()], p.key_count,
             p.is_truncated, p.delimiter) for p in result] == [
        ([], ["tree/a/", "tree/b/"], 2, True, "/"),
        (["tree/c"], ["tree/d/"], 2, True, "/"),
        (["tree/e"], [], 1, False, "/")]
    (whole,) = pages(c, prefix="tree/", delimiter="/")
    assert [x.prefix for x in whole.common_prefixes] == ["tree/a/", "tree/b/", "tree/d/"]
    after = pages(c, prefix="tree/", start_after="tree/a/1")
    assert [o.key for o in after[0].contents] == ["tree/a/2", "tree/b/1", "tree/c", "tree/d/x/y", "tree/e"]
    assert after[0].start_after == "tree/a/1"


def test_listing_url_encoded_on_the_wire_and_xml_text_without_it(standin):
    response = send(signed(standin, "GET", BUCKET, query="encoding-type=url&list-type=2&prefix=with%20space%2F"))
    root = ET.fromstring(response.content)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "application/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>')
    assert [root.findtext(t) for t in ("Name", "Prefix", "MaxKeys", "EncodingType", "IsTruncated", "KeyCount")] == \
        [BUCKET, "with%20space/", "100", "url", "false", "1"]
    assert root.findtext("Contents/Key") == "with%20space/and%2Bplus"
    plain = pages(client(standin), encoding_type="")   # the SDK then decodes nothing: XML text carries the keys
    assert [o.key for p in plain for o in p.contents] == sorted([SUCCESS, *ODD_KEYS])
    assert standin.calls[-1]["params"]["encoding-type"] == ""


@pytest.mark.parametrize("request_fields", [{"max_keys": 1001}, {"max_keys": 0}, {"continuation_token": "%%%"},
                                            {"encoding_type": "base64"}])
def test_bad_listing_parameters(standin, request_fields):
    c = client(standin)
    refused(lambda: c.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, **request_fields)),
            "InvalidArgument", 400)


# --- errors ---------------------------------------------------------------------------------------------------

def test_unknown_bucket(standin):
    c = client(standin)
    refused(lambda: c.is_object_exist("no-such-bucket", SUCCESS), "NoSuchBucket", 404, "0015-00000101")
    refused(lambda: head(c, SUCCESS, bucket="no-such-bucket"), "NoSuchBucket", 404, "0015-00000101")
    refused(lambda: pages(c, bucket="no-such-bucket"), "NoSuchBucket", 404, "0015-00000101")
    assert {(x["bucket"], x["status"], x["code"], x["access_key_id"]) for x in standin.calls} == \
        {("no-such-bucket", 404, "NoSuchBucket", AK)}


def test_error_shape_on_the_wire(standin):
    response = send(signed(standin, "GET", "no-such-bucket", query="list-type=2"))
    fields = error_fields(response.content)
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>')
    assert list(fields) == ["Code", "Message", "RequestId", "HostId", "EC"]
    assert fields == {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist.",
                      "RequestId": response.headers["x-oss-request-id"], "HostId": standin.endpoint,
                      "EC": "0015-00000101"}
    assert (response.status_code, response.headers["Content-Type"], response.headers["x-oss-ec"]) == \
        (404, "application/xml", "0015-00000101")
    missing = send(signed(standin, "HEAD", BUCKET, "absent"))
    assert (missing.status_code, missing.content, missing.headers["Content-Type"]) == (404, b"", "application/xml")
    fields = error_fields(base64.b64decode(missing.headers["x-oss-err"]))
    assert (fields["Code"], fields["RequestId"], missing.headers["x-oss-ec"]) == \
        ("NoSuchKey", missing.headers["x-oss-request-id"], "0026-00000001")


def test_wrong_secret_is_refused_and_recorded_without_secrets(standin):
    c = client(standin, secret="not-the-secret")
    error = refused(lambda: c.is_object_exist(BUCKET, SUCCESS), "SignatureDoesNotMatch", 403)
    assert error.message.startswith("The request signature we calculated does not match")
    sts = client(standin, STS[0], "wrong", STS[2])
    refused(lambda: head(sts, SUCCESS), "SignatureDoesNotMatch", 403)
    calls = standin.calls
    assert [set(x) for x in calls] == [CALL_FIELDS] * 2
    assert [(x["access_key_id"], x["status"], x["code"], x["fault"]) for x in calls] == \
        [(AK, 403, "SignatureDoesNotMatch", None), (STS[0], 403, "SignatureDoesNotMatch", None)]
    text = json.dumps(calls, ensure_ascii=False)
    assert not re.search(r"[0-9a-f]{64}", text)   # no signature
    assert all(secret not in text for secret in ("not-the-secret", "wrong", STS[2], "Credential", "OSS4"))


def test_unknown_key_and_sts_token(standin):
    refused(lambda: client(standin, "LTAInobody", SECRET).is_object_exist(BUCKET, SUCCESS), "InvalidAccessKeyId", 403)
    assert client(standin, *STS).is_object_exist(BUCKET, SUCCESS) is True
    refused(lambda: client(standin, STS[0], STS[1], "another-token").is_object_exist(BUCKET, SUCCESS),
            "InvalidSecurityToken", 403)
    refused(lambda: client(standin, STS[0], STS[1]).is_object_exist(BUCKET, SUCCESS), "InvalidSecurityToken", 403)
    assert [(x["access_key_id"], x["code"]) for x in standin.calls] == [
        ("LTAInobody", "InvalidAccessKeyId"), (STS[0], None), (STS[0], "InvalidSecurityToken"),
        (STS[0], "InvalidSecurityToken")]
    assert STS[2] not in json.dumps(standin.calls)


def test_scope_region_must_be_the_buckets(standin):
    error = refused(lambda: client(standin, region="cn-beijing").is_object_exist(BUCKET, SUCCESS),
                    "InvalidArgument", 400, "0002-00000226")
    assert error.message == "Invalid signing region in Authorization header."
    refused(lambda: client(standin).is_object_exist(BEIJING, "x"), "InvalidArgument", 400, "0002-00000226")
    assert client(standin, region="cn-beijing").is_object_exist(BEIJING, "x") is True


def test_request_time_within_fifteen_minutes_of_real_time(standin):
    c = client(standin)
    stale = format_datetime(datetime.now(timezone.utc) - timedelta(minutes=16), usegmt=True)
    refused(lambda: head(c, SUCCESS, headers={"x-oss-date": stale}), "RequestTimeTooSkewed", 403)
    ahead = format_datetime(datetime.now(timezone.utc) + timedelta(minutes=14), usegmt=True)
    assert head(c, SUCCESS, headers={"x-oss-date": ahead}).status_code == 200


def test_extra_query_parameters_are_signed_and_recorded(standin):
    params = {"+param1": "value3", "|param1": "value4", "param2": "", "a b": "c/d+e&f=g", "键": "值"}
    assert head(client(standin), SUCCESS, parameters=params).status_code == 200
    assert standin.calls[-1]["params"] == params


def test_sdk_signer_corners_over_the_wire(standin):
    extra = signed(standin, "HEAD", BUCKET, SUCCESS, headers={"x-custom": "v", "ZAbc": "z"},
                   additional={"x-custom", "zabc", "x-oss-no-such"})
    assert "AdditionalHeaders=x-custom;zabc," in extra.headers["Authorization"]
    assert send(extra).status_code == 200                      # the SDK client never sends these (1.4.1)
    cases = [("x-custom", "changed"), ("x-oss-meta-added", "1"), ("Content-Type", "text/plain"),
             ("x-oss-date", (datetime.now(timezone.utc) - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ"))]
    for name, value in cases:
        tampered = signed(standin, "HEAD", BUCKET, SUCCESS, headers={"x-custom": "v"}, additional={"x-custom"})
        tampered.headers[name] = value
        response = send(tampered)
        assert (response.status_code, response.content) == (403, b"")
        assert error_fields(base64.b64decode(response.headers["x-oss-err"]))["Code"] == "SignatureDoesNotMatch"
    listing = signed(standin, "GET", BUCKET, query="list-type=2&prefix=a")
    assert send(listing).status_code == 200
    assert send(listing, listing.url.replace("prefix=a", "prefix=b")).status_code == 403
    assert send(listing, listing.url.replace(f"/{BUCKET}/?", f"/{BUCKET}?")).status_code == 200   # one resource
    spaced = signed(standin, "GET", BUCKET, query="list-type=2&prefix=with%20space%2F")
    assert send(spaced, spaced.url.replace("%20", "+")).status_code == 200   # "+" is a space, as the Go SDK sends it
    assert standin.calls[-1]["params"]["prefix"] == "with space/"


@pytest.mark.parametrize("change,status,code", [
    (lambda r: r.headers.pop("Authorization"), 403, "AccessDenied"),
    (lambda r: r.headers.update(Authorization=f"OSS {AK}:c2lnbmF0dXJl"), 400, "InvalidArgument"),
    (lambda r: r.headers.pop("x-oss-date"), 403, "AccessDenied"),
    (lambda r: r.headers.update({"x-oss-content-sha256": "0" * 64}), 400, "InvalidArgument"),
    (lambda r: r.headers.pop("x-oss-content-sha256"), 400, "InvalidArgument"),
    (lambda r: r.headers.update(Authorization=re.sub(r"/(\d{8})/", "/20200101/", r.headers["Authorization"])),
     400, "InvalidArgument"),
])
def test_malformed_authentication(standin, change, status, code):
    request = signed(standin, "GET", BUCKET, query="list-type=2")
    change(request)
    response = send(request)
    assert (response.status_code, error_fields(response.content)["Code"]) == (status, code)


def test_other_products_scope_is_refused(standin):
    response = send(signed(standin, "GET", BUCKET, query="list-type=2", product="ecs"))
    assert (response.status_code, error_fields(response.content)["Message"]) == \
        (400, "Invalid signing product in Authorization header.")


@pytest.mark.parametrize("when,token,additional,expected", [
    (1702743657, None, None, "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"),
    (1702784856, "token", None, "b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea"),
    (1702747512, None, "abc;zabc", "4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"),
])
def test_the_sdk_repositorys_own_v4_vectors(when, token, additional, expected):
    """alibabacloud-oss-python-sdk-v2 tests/unit/signer/test_v4.py, fixed inputs and expected signatures: the
    verifier is checked against published values, not only against the installed signer."""
    stamp = datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = Message()
    for name, value in {"x-oss-head1": "value", "abc": "value", "ZAbc": "value", "XYZ": "value",
                        "content-type": "text/plain", "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
                        "x-oss-date": stamp, **({"x-oss-security-token": token} if token else {})}.items():
        headers[name] = value
    pairs = [("param1", "value1"), ("+param1", "value3"), ("|param1", "value4"), ("+param2", ""), ("|param2", ""),
             ("param2", "")]
    auth = parse_authorization(f"OSS4-HMAC-SHA256 Credential=ak/{stamp[:8]}/cn-hangzhou/oss/aliyun_v4_request,"
                               + (f"AdditionalHeaders={additional}," if additional else "") + f"Signature={expected}")
    keys = Keys([Key("ak", "sk", token)])
    key = verify_v4(auth, "PUT", "bucket", "1234+-/123/1.txt", pairs, headers, keys, "cn-hangzhou", when + 60)
    assert key.access_key_id == "ak"
    wrong = parse_authorization(f"OSS4-HMAC-SHA256 Credential=ak/{stamp[:8]}/cn-hangzhou/oss/aliyun_v4_request,"
                                f"Signature={expected[::-1]}")
    with pytest.raises(OssError) as info:
        verify_v4(wrong, "PUT", "bucket", "1234+-/123/1.txt", pairs, headers, keys, "cn-hangzhou", when + 60)
    assert (info.value.status, info.value.code) == (403, "SignatureDoesNotMatch")


def test_unserved_operations(standin):
    c = client(standin)
    refused(lambda: c.put_object_acl(oss.PutObjectAclRequest(bucket=BUCKET, key=SUCCESS, acl="private")),
            "MethodNotAllowed", 405)
    refused(lambda: c.append_object(oss.AppendObjectRequest(bucket=BUCKET, key="k", position=0, body=b"x")),
            "MethodNotAllowed", 405)
    refused(lambda: c.get_object_acl(oss.GetObjectAclRequest(bucket=BUCKET, key=SUCCESS)), "InvalidArgument", 400)
    refused(lambda: c.get_object(oss.GetObjectRequest(bucket=BUCKET, key=SUCCESS, response_content_type="text/x")),
            "InvalidArgument", 400)
    refused(lambda: c.list_objects(oss.ListObjectsRequest(bucket=BUCKET)), "InvalidArgument", 400)
    assert [(x["operation"], x["method"], x["key"], x["access_key_id"], x["status"]) for x in standin.calls] == [
        ("Unknown", "PUT", SUCCESS, None, 405), ("Unknown", "POST", "k", None, 405),
        ("Unknown", "GET", SUCCESS, None, 400), ("Unknown", "GET", SUCCESS, None, 400),
        ("Unknown", "GET", None, None, 400)]
    assert standin.objects(BUCKET) == sorted([SUCCESS, *ODD_KEYS])


# --- faults ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault,code,status,ec", [
    ("throttle", "TotalQpsLimitExceeded", 503, "0004-00000302"),
    ("error", "InternalError", 500, ""),
    ("forbidden", "AccessDenied", 403, ""),
])
def test_error_faults(standin, fault, code, status, ec):
    c = client(standin)
    standin.set_faults(script=[fault])
    refused(lambda: c.is_object_exist(BUCKET, SUCCESS), code, status, ec)
    assert c.is_object_exist(BUCKET, SUCCESS) is True
    standin.set_faults(script=[fault])
    refused(lambda: c.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET)), code, status, ec)
    assert [(x["fault"], x["status"], x["code"]) for x in standin.calls] == \
        [(fault, status, code), (None, 200, None), (fault, status, code)]


def test_the_sdks_retryer_retries_throttling_and_errors_not_forbidden(standin):
    c = client(standin, retryer=None)   # the SDK's StandardRetryer: 3 attempts
    standin.set_faults(script=["throttle", "error"])
    assert c.is_object_exist(BUCKET, SUCCESS) is True
    standin.set_faults(script=["forbidden"])
    refused(lambda: c.is_object_exist(BUCKET, SUCCESS), "AccessDenied", 403)
    assert [x["fault"] for x in standin.calls] == ["throttle", "error", None, "forbidden"]


def test_qps_throttles(standin, monkeypatch):
    """Two calls in one second of a qps=1 stand-in: the second is throttled (on a frozen clock for the window, so a
    slow machine cannot spread them a second apart)."""
    monkeypatch.setattr(standin._faults, "clock", lambda: 0.0)
    c = client(standin)
    standin.set_faults(qps=1)
    assert c.is_object_exist(BUCKET, SUCCESS) is True
    refused(lambda: c.is_object_exist(BUCKET, SUCCESS), "TotalQpsLimitExceeded", 503, "0004-00000302")


def test_faults_apply_after_authentication_and_to_listed_operations(standin):
    standin.set_faults(script=["error"], actions=["ListObjectsV2"])
    refused(lambda: client(standin, secret="bad").is_object_exist(BUCKET, SUCCESS), "SignatureDoesNotMatch", 403)
    assert client(standin).is_object_exist(BUCKET, SUCCESS) is True
    refused(lambda: pages(client(standin)), "InternalError", 500)
    assert [x["fault"] for x in standin.calls] == [None, None, "error"]


def test_drop_closes_the_connection(standin):
    standin.set_faults(script=["drop"])
    failed(lambda: client(standin).is_object_exist(BUCKET, SUCCESS), oss.exceptions.RequestError)
    (call,) = standin.calls
    assert (call["fault"], call["status"], call["code"]) == ("drop", None, None)


def test_latency_delays_and_outlasts_a_read_timeout(standin):
    standin.set_faults(script=["latency"], latency_ms=300)
    started = time.monotonic()
    assert client(standin).is_object_exist(BUCKET, SUCCESS) is True
    assert time.monotonic() - started >= 0.3
    standin.set_faults(script=["latency"], latency_ms=1500)
    failed(lambda: client(standin, readwrite_timeout=0.3).is_object_exist(BUCKET, SUCCESS),
           oss.exceptions.ResponseError)
    wait_until(lambda: len(standin.calls) == 2)   # the server still answers, to nobody
    assert [(x["fault"], x["status"]) for x in standin.calls] == [("latency", 200), ("latency", 200)]


def test_drip_succeeds_slowly_past_a_per_read_timeout(standin):
    """~250 header bytes at >= 5 ms each outlast the 0.8 s read timeout (a lower bound: the server's sleeps alone add
    up to more), while each read waits 5 ms for its byte, 160 times less than the timeout a loaded machine would
    have to stall a thread for."""
    standin.set_faults(script=["drip"], drip_ms=5)
    started = time.monotonic()
    assert client(standin, readwrite_timeout=0.8).is_object_exist(BUCKET, SUCCESS) is True
    assert time.monotonic() - started > 0.8
    assert (standin.calls[-1]["fault"], standin.calls[-1]["status"]) == ("drip", 200)


def test_redirect_is_not_followed_by_default(standin):
    standin.set_faults(script=["redirect"])
    error = refused(lambda: client(standin).is_object_exist(BUCKET, "absent"), REDIRECT, 302)
    port = standin.endpoint.split(":")[1]
    assert error.headers["Location"] == f"http://localhost:{port}/_decoy/{BUCKET}/absent?objectMeta="
    assert standin.decoy_calls == []


@pytest.mark.parametrize("status,key,credentials", [(302, STS, True), (307, (AK, SECRET, None), False)])
def test_redirect_followed_with_enabled_redirect_leaks_and_lies(standin, status, key, credentials):
    c = client(standin, *key, enabled_redirect=True)
    standin.set_faults(script=["redirect", "redirect"], redirect_status=status)
    assert c.is_object_exist(BUCKET, "absent") is True   # the decoy's 200: an absent object "exists"
    assert listed(c) == []                                # and a bucket "is empty"
    assert [(x["fault"], x["status"]) for x in standin.calls] == [("redirect", status)] * 2
    seen = standin.decoy_calls
    assert [(d["method"], d["path"], d["credentials"]) for d in seen] == [
        ("HEAD", f"/_decoy/{BUCKET}/absent", credentials), ("GET", f"/_decoy/{BUCKET}/", credentials)]
    # requests drops Authorization on the way to another host, but not x-oss-security-token
    assert all("authorization" not in d["headers"] and ("x-oss-security-token" in d["headers"]) is credentials
               for d in seen)
    assert STS[2] not in json.dumps(seen)


def test_unsupported_fault_configs_are_refused(standin):
    for config in [{"script": ["html_502"]}, {"script": ["malformed"], "malformed_body": "x"},
                   {"retry_after_ms": 100}, {"success_false_rate": 0.5}, {"endless_pages": True},
                   {"actions": ["RunTriggerNode"]}, {"script": ["teapot"]}, {"script": "error"}]:
        with pytest.raises(ValueError):
            standin.set_faults(**config)


# --- epochs ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [{"latency_ms": 30_000, "script": ["latency"]},
                                   {"drip_ms": 1000, "script": ["drip"]}])
def test_reset_discards_a_request_in_flight(standin, fault):
    wait_until(lambda: standin.in_flight == 0)   # an earlier test's handler may still be closing its connection
    standin.set_faults(**fault)
    outcome = []
    slow = threading.Thread(target=lambda: outcome.append(pytest.raises(
        oss.exceptions.OperationError, client(standin, readwrite_timeout=60).is_object_exist, BUCKET, SUCCESS)))
    slow.start()
    wait_until(lambda: standin.in_flight == 1)
    standin.put(BUCKET, "landed-before-reset")
    standin.reset()
    slow.join(10)   # the injected wait (30 s, or minutes of drip) ended with the reset
    assert not slow.is_alive() and type(outcome[0].value.unwrap()) is oss.exceptions.RequestError
    wait_until(lambda: standin.in_flight == 0)
    assert standin.calls == [] and standin.objects(BUCKET) == sorted([SUCCESS, *ODD_KEYS])
    assert client(standin).is_object_exist(BUCKET, SUCCESS) is True   # the seed's (empty) faults are back
    assert [(x["fault"], x["status"]) for x in standin.calls] == [(None, 200)]


def test_stop_ends_injected_waits():
    with OssStandIn(SEED) as server:
        server.set_faults(latency_ms=30_000, script=["latency"])
        outcome = []
        slow = threading.Thread(target=lambda: outcome.append(pytest.raises(
            oss.exceptions.OperationError, client(server).is_object_exist, BUCKET, SUCCESS)))
        slow.start()
        wait_until(lambda: server.in_flight == 1)
    slow.join(10)
    assert not slow.is_alive() and len(outcome) == 1 and server.calls == []


def test_calls_record_arrival_on_the_monotonic_clock(standin):
    c = client(standin)
    before = time.monotonic()
    c.is_object_exist(BUCKET, SUCCESS)
    c.is_object_exist(BUCKET, "absent")
    after = time.monotonic()
    first, second = (x["monotonic"] for x in standin.calls)
    assert before <= first < second <= after


# --- PutObject, GetObject, DeleteObject: objects with content (the ledger's operations) ---------------------

LEDGER = "ledger/2026-03-11/node-42/instance-7.json"
PRESENT = "ledger/2026-03-10/node-42/instance-6.json"
ENTRY = json.dumps({"instance": 7, "state": "claimed", "by": "fc-调度"}, ensure_ascii=False).encode()


def put(c, key, body, bucket=BUCKET, **kw):
    return c.put_object(oss.PutObjectRequest(bucket=bucket, key=key, body=body, **kw))


def get(c, key, bucket=BUCKET):
    result = c.get_object(oss.GetObjectRequest(bucket=bucket, key=key))
    return result, result.body.read()


def delete(c, key, bucket=BUCKET):
    return c.delete_object(oss.DeleteObjectRequest(bucket=bucket, key=key))


def etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest().upper()}"'


def md5_base64(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def sdk_crc64(body: bytes) -> str:
    """The SDK's own CRC-64 (crcmod), against which the stand-in's x-oss-hash-crc64ecma is checked."""
    crc = Crc64(0)
    crc.update(body)
    return str(crc.sum64())


def test_content_round_trips_through_put_get_head_and_list(standin):
    c = client(standin)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    stored = put(c, LEDGER, ENTRY, forbid_overwrite=True)
    after = datetime.now(timezone.utc)
    assert (stored.status_code, stored.etag, stored.hash_crc64, stored.content_md5, len(stored.request_id)) == \
        (200, etag(ENTRY), sdk_crc64(ENTRY), md5_base64(ENTRY), 24)
    result, body = get(c, LEDGER)
    assert body == ENTRY and json.loads(body) == {"instance": 7, "state": "claimed", "by": "fc-调度"}
    assert (result.status_code, result.content_type, result.content_length, result.etag, result.hash_crc64) == \
        (200, "application/json", len(ENTRY), etag(ENTRY), sdk_crc64(ENTRY))   # the SDK typed it by ".json"
    assert before <= result.last_modified <= after
    meta = head(c, LEDGER)
    assert (meta.content_length, meta.content_type, meta.etag, meta.hash_crc64, meta.last_modified) == \
        (len(ENTRY), "application/json", etag(ENTRY), sdk_crc64(ENTRY), result.last_modified)
    (item,) = pages(c, prefix="ledger/")[0].contents
    assert (item.key, item.size, item.etag, item.last_modified) == \
        (LEDGER, len(ENTRY), etag(ENTRY), result.last_modified)
    assert standin.body(BUCKET, LEDGER) == ENTRY
    assert [(x["operation"], x["method"], x["key"], x["params"], x["status"], x["code"]) for x in standin.calls] == [
        ("PutObject", "PUT", LEDGER, {"forbid_overwrite": True}, 200, None),
        ("GetObject", "GET", LEDGER, {}, 200, None),
        ("HeadObject", "HEAD", LEDGER, {}, 200, None),
        ("ListObjectsV2", "GET", None, {"encoding-type": "url", "list-type": "2", "prefix": "ledger/"}, 200, None)]
    assert [set(x) for x in standin.calls] == [CALL_FIELDS] * 4
    assert "claimed" not in json.dumps(standin.calls, ensure_ascii=False)   # no bodies on the record


def test_create_only_if_absent_then_overwrite(standin):
    c = client(standin, retryer=None)   # the SDK's default retryer: a 409 is not retried
    claimed, sent = b'{"state": "claimed"}', b'{"state": "sent", "run": 1}'
    put(c, LEDGER, claimed, forbid_overwrite=True)
    error = refused(lambda: put(c, LEDGER, b"a second claim", forbid_overwrite=True), "FileAlreadyExists", 409)
    assert (error.message, error.request_id) == \
        ("The object you specified already exists and can not be overwritten.", error.headers["x-oss-request-id"])
    assert standin.body(BUCKET, LEDGER) == claimed
    assert put(c, LEDGER, sent).etag == etag(sent)   # no header: an overwrite
    assert standin.body(BUCKET, LEDGER) == sent
    put(c, LEDGER, claimed, forbid_overwrite=False)
    assert standin.body(BUCKET, LEDGER) == claimed
    refused(lambda: put(c, SUCCESS, b"x", forbid_overwrite=True), "FileAlreadyExists", 409)   # a seeded object
    assert standin.body(BUCKET, SUCCESS) == b""
    error = refused(lambda: put(c, "ledger/new", b"x", forbid_overwrite="maybe"), "InvalidArgument", 400,
                    "0017-00000279")
    assert standin.body(BUCKET, "ledger/new") is None
    assert [(x["key"], x["params"], x["status"], x["code"]) for x in standin.calls] == [
        (LEDGER, {"forbid_overwrite": True}, 200, None),
        (LEDGER, {"forbid_overwrite": True}, 409, "FileAlreadyExists"),
        (LEDGER, {"forbid_overwrite": False}, 200, None),
        (LEDGER, {"forbid_overwrite": False}, 200, None),
        (SUCCESS, {"forbid_overwrite": True}, 409, "FileAlreadyExists"),
        ("ledger/new", {"forbid_overwrite": False}, 400, "InvalidArgument")]
    assert {x["operation"] for x in standin.calls} == {"PutObject"}


def test_concurrent_creates_exactly_one_wins(standin):
    racers, rounds = 8, 5
    standin.set_faults(latency_ms=100)   # every request waits inside the server: all are in flight at once
    for n in range(rounds):
        key, barrier, outcomes = f"ledger/race/{n}.json", threading.Barrier(racers), [None] * racers

        def race(i):
            c = client(standin)
            barrier.wait()
            try:
                outcomes[i] = put(c, key, json.dumps({"racer": i}).encode(), forbid_overwrite=True).status_code
            except oss.exceptions.OperationError as e:
                outcomes[i] = (type(e.unwrap()).__name__, e.unwrap().code, e.unwrap().status_code)

        threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        winners = [i for i, outcome in enumerate(outcomes) if outcome == 200]
        assert len(winners) == 1, outcomes
        assert [o for o in outcomes if o != 200] == [("ServiceError", "FileAlreadyExists", 409)] * (racers - 1)
        assert json.loads(standin.body(BUCKET, key)) == {"racer": winners[0]}
    assert sorted((x["status"], x["fault"]) for x in standin.calls) == \
        [(200, "latency")] * rounds + [(409, "latency")] * (racers - 1) * rounds


def test_get_and_delete(standin):
    c = client(standin)
    standin.put(BUCKET, PRESENT, b"\x00\xffbinary")
    result, body = get(c, PRESENT)
    assert (body, result.content_type, result.content_length, result.etag) == \
        (b"\x00\xffbinary", "application/octet-stream", 8, etag(b"\x00\xffbinary"))
    refused(lambda: get(c, LEDGER), "NoSuchKey", 404, "0026-00000001")
    assert delete(c, PRESENT).status_code == 204
    assert standin.body(BUCKET, PRESENT) is None and c.is_object_exist(BUCKET, PRESENT) is False
    assert delete(c, PRESENT).status_code == 204   # absent: 204 too, as OSS
    for call in (lambda: get(c, "k", "no-such-bucket"), lambda: delete(c, "k", "no-such-bucket"),
                 lambda: put(c, "k", b"x", "no-such-bucket")):
        refused(call, "NoSuchBucket", 404, "0015-00000101")
    assert [(x["operation"], x["method"], x["key"], x["status"], x["code"]) for x in standin.calls] == [
        ("GetObject", "GET", PRESENT, 200, None), ("GetObject", "GET", LEDGER, 404, "NoSuchKey"),
        ("DeleteObject", "DELETE", PRESENT, 204, None), ("GetObjectMeta", "HEAD", PRESENT, 404, "NoSuchKey"),
        ("DeleteObject", "DELETE", PRESENT, 204, None), ("GetObject", "GET", "k", 404, "NoSuchBucket"),
        ("DeleteObject", "DELETE", "k", 404, "NoSuchBucket"), ("PutObject", "PUT", "k", 404, "NoSuchBucket")]
    assert standin.body(BUCKET, SUCCESS) == b"" and standin.body(BUCKET, "absent") is None
    with pytest.raises(KeyError):
        standin.body("no-such-bucket", "k")


def test_new_operations_on_the_wire(standin):
    standin.put(BUCKET, LEDGER, b"first")
    conflict = send(signed(standin, "PUT", BUCKET, LEDGER, headers={"x-oss-forbid-overwrite": "TRUE"}), data=b"2nd")
    assert (conflict.status_code, conflict.headers["Content-Type"], "x-oss-ec" in conflict.headers) == \
        (409, "application/xml", False)
    assert error_fields(conflict.content) == {
        "Code": "FileAlreadyExists", "Message": "The object you specified already exists and can not be overwritten.",
        "RequestId": conflict.headers["x-oss-request-id"], "HostId": standin.endpoint}
    missing = send(signed(standin, "GET", BUCKET, "absent"))
    assert (missing.status_code, missing.headers["Content-Type"], missing.headers["x-oss-ec"]) == \
        (404, "application/xml", "0026-00000001")
    assert {k: v for k, v in error_fields(missing.content).items() if k != "RequestId"} == {
        "Code": "NoSuchKey", "Message": "The specified key does not exist.", "HostId": standin.endpoint,
        "EC": "0026-00000001"}
    created = send(signed(standin, "PUT", BUCKET, PRESENT, headers={"Content-Type": "text/csv"}), data=b"a,b\n")
    assert (created.status_code, created.content, created.headers["ETag"], created.headers["Content-Length"]) == \
        (200, b"", etag(b"a,b\n"), "0")
    read = send(signed(standin, "GET", BUCKET, PRESENT, headers={"Range": "bytes=0-0"}))   # Range: not served
    assert (read.status_code, read.content, read.headers["Content-Type"], read.headers["Content-Length"]) == \
        (200, b"a,b\n", "text/csv", "4")
    assert (read.headers["ETag"], read.headers["x-oss-hash-crc64ecma"]) == (etag(b"a,b\n"), sdk_crc64(b"a,b\n"))
    assert read.headers["Last-Modified"].endswith(" GMT")
    bare = send(signed(standin, "PUT", BUCKET, "ledger/untyped"), data=b"x")   # no Content-Type: octet-stream
    untyped = head(client(standin), "ledger/untyped")
    assert (bare.status_code, untyped.content_type, untyped.content_length) == (200, "application/octet-stream", 1)
    deleted = send(signed(standin, "DELETE", BUCKET, PRESENT))
    assert (deleted.status_code, deleted.content, deleted.headers["Content-Length"]) == (204, b"", "0")
    refused(lambda: put(client(standin), "\\leading-backslash", b"x"), "InvalidObjectName", 400)


def test_a_streamed_body_of_unknown_length_is_stored(standin):
    result = put(client(standin), LEDGER, iter([b"part one, ", b"part two"]))   # chunked on the wire
    assert standin.body(BUCKET, LEDGER) == b"part one, part two"
    assert (result.etag, result.hash_crc64) == (etag(b"part one, part two"), sdk_crc64(b"part one, part two"))


def test_content_md5_binds_the_unsigned_body(standin):
    c = client(standin)
    assert put(c, LEDGER, b"right", content_md5=md5_base64(b"right")).status_code == 200
    error = refused(lambda: put(c, LEDGER, b"wrong", content_md5=md5_base64(b"right")), "InvalidDigest", 400)
    assert error.message == "The Content-MD5 you specified was invalid."
    assert standin.body(BUCKET, LEDGER) == b"right"


def test_the_signature_covers_the_new_operations(standin):
    standin.put(BUCKET, LEDGER, b"kept")

    def claim():
        return signed(standin, "PUT", BUCKET, LEDGER, headers={
            "x-oss-forbid-overwrite": "true", "Content-Type": "application/json", "Content-MD5": md5_base64(b"claim")})

    tampered = []
    for name, value in [("x-oss-forbid-overwrite", "false"), ("Content-Type", "text/plain"),
                        ("Content-MD5", md5_base64(b"forged"))]:
        request = claim()
        request.headers[name] = value
        tampered.append(send(request, data=b"forged" if name == "Content-MD5" else b"claim"))
    dropped = claim()
    del dropped.headers["x-oss-forbid-overwrite"]
    tampered.append(send(dropped, data=b"claim"))
    tampered.append(send(claim(), method="DELETE"))                                   # the method is signed
    removal = signed(standin, "DELETE", BUCKET, LEDGER)
    tampered.append(send(removal, url=removal.url.replace("instance-7", "instance-8")))   # so is the key
    assert [(r.status_code, error_fields(r.content)["Code"]) for r in tampered] == \
        [(403, "SignatureDoesNotMatch")] * 6
    assert standin.body(BUCKET, LEDGER) == b"kept"
    assert send(claim(), data=b"forged").status_code == 400               # the body: Content-MD5 binds it
    assert send(signed(standin, "PUT", BUCKET, LEDGER), data=b"unsigned").status_code == 200   # without, any body
    assert standin.body(BUCKET, LEDGER) == b"unsigned"
    for call in (lambda c: put(c, LEDGER, b"x"), lambda c: get(c, LEDGER), lambda c: delete(c, LEDGER)):
        refused(lambda: call(client(standin, secret="not-the-secret")), "SignatureDoesNotMatch", 403)
    assert standin.body(BUCKET, LEDGER) == b"unsigned"
    assert [(x["operation"], x["status"], x["code"]) for x in standin.calls][-5:] == [
        ("PutObject", 400, "InvalidDigest"), ("PutObject", 200, None), ("PutObject", 403, "SignatureDoesNotMatch"),
        ("GetObject", 403, "SignatureDoesNotMatch"), ("DeleteObject", 403, "SignatureDoesNotMatch")]


OBJECT_OPERATIONS = {
    "PutObject": (lambda c: put(c, LEDGER, ENTRY, forbid_overwrite=True), f"{BUCKET}/{LEDGER}", 200),
    "GetObject": (lambda c: get(c, PRESENT), f"{BUCKET}/{PRESENT}", 200),
    "DeleteObject": (lambda c: delete(c, PRESENT), f"{BUCKET}/{PRESENT}", 204),
}


def unchanged(standin):
    """Neither the put's object landed nor the deleted one went."""
    return standin.body(BUCKET, LEDGER) is None and standin.body(BUCKET, PRESENT) == b"present"


@pytest.mark.parametrize("operation", OBJECT_OPERATIONS)
@pytest.mark.parametrize("fault,code,status,ec", [
    ("throttle", "TotalQpsLimitExceeded", 503, "0004-00000302"),
    ("error", "InternalError", 500, ""),
    ("forbidden", "AccessDenied", 403, ""),
])
def test_error_faults_on_the_new_operations_change_nothing(standin, operation, fault, code, status, ec):
    call, _, success = OBJECT_OPERATIONS[operation]
    standin.put(BUCKET, PRESENT, b"present")
    standin.set_faults(script=[fault], actions=[operation])
    c = client(standin)
    refused(lambda: call(c), code, status, ec)
    assert unchanged(standin)
    call(c)
    assert [(x["operation"], x["fault"], x["status"], x["code"]) for x in standin.calls] == \
        [(operation, fault, status, code), (operation, None, success, None)]


@pytest.mark.parametrize("operation", OBJECT_OPERATIONS)
def test_drop_and_redirect_on_the_new_operations_change_nothing(standin, operation):
    call, path, _ = OBJECT_OPERATIONS[operation]
    standin.put(BUCKET, PRESENT, b"present")
    standin.set_faults(script=["drop", "redirect"])
    failed(lambda: call(client(standin)), oss.exceptions.RequestError)
    error = refused(lambda: call(client(standin)), REDIRECT, 302)
    assert error.headers["Location"] == f"http://localhost:{standin.endpoint.split(':')[1]}/_decoy/{path}"
    assert unchanged(standin) and standin.decoy_calls == []
    assert [(x["operation"], x["fault"], x["status"]) for x in standin.calls] == \
        [(operation, "drop", None), (operation, "redirect", 302)]


def test_latency_and_drip_on_the_new_operations(standin):
    c = client(standin, readwrite_timeout=3)        # ten times the latency: in time however loaded the machine
    standin.put(BUCKET, PRESENT, b"present")
    standin.set_faults(script=["latency", "drip", "drip"], latency_ms=300, drip_ms=3)
    started = time.monotonic()
    put(c, LEDGER, ENTRY, forbid_overwrite=True)
    assert time.monotonic() - started >= 0.3
    assert get(c, LEDGER)[1] == ENTRY              # every byte, header and body, in time
    assert delete(c, PRESENT).status_code == 204
    assert [(x["operation"], x["fault"], x["status"]) for x in standin.calls] == \
        [("PutObject", "latency", 200), ("GetObject", "drip", 200), ("DeleteObject", "drip", 204)]


def test_reset_discards_a_put_in_flight(standin):
    wait_until(lambda: standin.in_flight == 0)   # an earlier test's handler may still be closing its connection
    standin.set_faults(script=["latency"], latency_ms=30_000)
    outcome = []
    slow = threading.Thread(target=lambda: outcome.append(pytest.raises(
        oss.exceptions.OperationError, put, client(standin, readwrite_timeout=60), LEDGER, ENTRY,
        forbid_overwrite=True)))
    slow.start()
    wait_until(lambda: standin.in_flight == 1)
    standin.reset()
    slow.join(10)   # the 30 s wait ended with the reset
    assert not slow.is_alive() and type(outcome[0].value.unwrap()) is oss.exceptions.RequestError
    wait_until(lambda: standin.in_flight == 0)
    assert standin.calls == [] and standin.body(BUCKET, LEDGER) is None
    put(client(standin), LEDGER, b"after the reset", forbid_overwrite=True)   # the claim is still open
    assert standin.body(BUCKET, LEDGER) == b"after the reset"
    assert [(x["operation"], x["fault"], x["status"]) for x in standin.calls] == [("PutObject", None, 200)]


def test_reset_restores_contents(standin):
    standin.put(BUCKET, SUCCESS, b"overwritten")
    standin.put(BUCKET, LEDGER, ENTRY)
    standin.reset()
    assert standin.body(BUCKET, SUCCESS) == b"" and standin.body(BUCKET, LEDGER) is None
    assert head(client(standin), SUCCESS).etag == EMPTY_ETAG


# --- seed -----------------------------------------------------------------------------------------------------

def test_seed_files_defaults_and_validation(tmp_path):
    path = tmp_path / "oss.yaml"
    path.write_text(f"keys: [{{access_key_id: {AK}, access_key_secret: {SECRET}}}]\n"
                    "buckets: [{name: from-yaml, objects: ['a/b', 'c']}]\nfaults: {script: [error]}\n")
    with OssStandIn(path) as server:
        assert server.objects("from-yaml") == ["a/b", "c"]
        refused(lambda: client(server).is_object_exist("from-yaml", "c"), "InternalError", 500)  # region cn-shanghai
        assert client(server).is_object_exist("from-yaml", "c") is True
    (tmp_path / "oss.json").write_text(json.dumps({"buckets": [{"name": "from-json"}]}))
    assert OssStandIn(tmp_path / "oss.json").objects("from-json") == []
    for bad in [{"buckets": [{"name": "Upper"}]}, {"buckets": [{"name": "ab"}]}, {"buckets": [{"name": "-ab"}]},
                {"buckets": [{"name": "dup"}, {"name": "dup"}]}, {"buckets": [{"name": "b12", "objects": "k"}]},
                {"buckets": [{"name": "b12", "objects": ["/k"]}]}, {"buckets": [{"name": "b12", "objects": [""]}]},
                {"buckets": [{"name": "b12", "bogus": 1}]}, {"bucket": []}, {"faults": {"script": ["html_502"]}},
                {"keys": [{"access_key_id": AK}]}]:
        with pytest.raises(ValueError):
            OssStandIn(bad)
