"""URLs for the submit-time rule, shared by the service and API tests."""

# Every spelling of a place we must never reach that can be recognised without a DNS lookup.
REFUSED_AT_SUBMIT = [
    # not http(s)
    "file:///etc/passwd", "gopher://cdn.example.com/", "ftp://cdn.example.com/x.png", "javascript:alert(1)",
    "dict://cdn.example.com:11211/",
    # credentials
    "http://user:pw@cdn.example.com/x.png", "http://user@cdn.example.com/x.png", "http://@cdn.example.com/x.png",
    "http://cdn.example.com\\@127.0.0.1/x.png",
    # ports
    "http://cdn.example.com:8080/x.png", "https://cdn.example.com:22/", "http://cdn.example.com:0/",
    "http://cdn.example.com:65536/", "http://cdn.example.com:８０/",
    # loopback, in every spelling
    "http://127.0.0.1/x.png", "http://127.0.0.1./x.png", "http://127.1/x.png", "http://2130706433/x.png",
    "http://0x7f000001/x.png", "http://0X7F000001/x.png", "http://0x7f.0.0.1/x.png", "http://0177.0.0.1/x.png",
    "http://017700000001/x.png", "http://127.000.000.001/x.png", "http://0/x.png", "http://0.0.0.0/x.png",
    "http://[::1]/x.png", "http://[0:0:0:0:0:0:0:1]/x.png", "http://[::]/x.png",
    "http://[::ffff:127.0.0.1]/x.png", "http://[::ffff:7f00:1]/x.png", "http://[0:0:0:0:0:ffff:7f00:1]/x.png",
    "http://[::127.0.0.1]/x.png", "http://[64:ff9b::7f00:1]/x.png", "http://[fe80::1%25eth0]/x.png",
    "http://[::1%25lo]/x.png", "http://１２７.０.０.１/x.png", "http://127。0。0。1/x.png", "http://①②⑦.0.0.1/x.png",
    "http://127.0.0%2e1/x.png", "http://%31%32%37.0.0.1/x.png",
    # private, shared, link-local and cloud metadata
    "http://10.0.0.1/x.png", "http://172.16.0.1/x.png", "http://192.168.1.1/x.png", "http://100.64.0.1/x.png",
    "http://169.254.169.254/computeMetadata/v1/", "http://2852039166/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/", "http://[fd00:ec2::254]/",
    "http://100.100.100.200/", "http://[fc00::1]/x.png", "http://[fd12:3456::1]/x.png", "http://[fe80::1]/x.png",
    "http://[::ffff:10.0.0.1]/x.png", "http://[64:ff9b::a00:1]/x.png",
    # multicast, reserved, documentation, benchmarking
    "http://224.0.0.1/x.png", "http://239.255.255.250/x.png", "http://240.0.0.1/x.png",
    "http://255.255.255.255/x.png", "http://192.0.2.1/x.png", "http://198.51.100.7/x.png",
    "http://203.0.113.9/x.png", "http://198.18.0.1/x.png", "http://[ff02::1]/x.png", "http://[2001:db8::1]/x.png",
    # names that only exist inside our networks
    "http://localhost/x.png", "http://LOCALHOST./x.png", "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/x.png", "http://app.localhost/x.png",
    "http://localhost.localdomain/x.png", "http://ip6-localhost/x.png", "http://metadata.google.internal/",
    "http://METADATA.google.internal./", "http://metadata/", "http://metadata.goog/", "http://instance-data/",
    "http://db.internal/", "http://printer.local/", "http://nas.localdomain/", "http://router.home.arpa/",
    "http://redis.default.svc/", "http://redis/", "http://api/", "http://api./",
    # not a URL, or not one we can read the same way as every resolver
    "http:///x.png", "http:x.png", "not a url", "", "http://1.2.3.4.5/", "http://256.0.0.1/",
    "http://cdn.example.123/", "http://[127.0.0.1]/", "http://[::1/", "http://cdn..example.com/",
    "http://cdn.example.com/a b.png", "http://cdn.example.com/x.png\r\nX-Injected: 1",
    "http://cdn.example.com/\x00.png", "\thttp://cdn.example.com/x.png", "http://cdn.exa\u200bmple.com/x.png",
    "http://cdn.example.com/" + "a" * 2048,
]

ACCEPTED_AT_SUBMIT = [
    "https://cdn.example.com/p.jpg", "http://93.184.216.34/x.png", "https://bücher.example/p.png",
    "https://BÜCHER.example/p.png", "HTTPS://CDN.EXAMPLE.COM/p.jpg", "https://cdn.example.com./p.jpg",
    "https://cdn.example.com:443/p.jpg", "http://cdn.example.com:80/p.jpg", "http://cdn.example.com:443/p.jpg",
    "https://cdn.example.com/@brand/p.jpg?size=large&token=abc#top", "https://[2606:4700:4700::1111]/p.png",
    "https://[64:ff9b::5db8:d822]/p.png", "https://my_bucket.s3.example.com/p.png",
]
