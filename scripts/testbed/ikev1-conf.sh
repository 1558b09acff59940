# The test bed gateway's IKEv1 responder (issue 17), sourced by up.sh: swanctl.conf sections
# printed by v1_conns (inside connections {}), v1_pools (inside pools {}) and v1_secrets (inside
# secrets {}). Every case is selected by the identity the client sends (IDii in Main Mode message
# 5), the XAUTH ones also by the authentication method (XAUTHInitPreShared, 65001):
#
#   case         client --id               auth (client)              gateway id       notes
#   v1psk        v1-psk@test               PSK (Main Mode)            v1.gw.test       Mode Config
#   v1xauth      v1-xauth@test             PSK + XAUTH (xauth-generic) v1.gw.test      user alice, Mode Config, Unity
#   v1aggr       v1-aggr@test              PSK, Aggressive Mode       v1.gw.test       Mode Config
#   v1rsa        client-rsa@test           RSA certificate            rsa.gw.test      gw-rsa certificate
#   v1ecdsa      client-ecdsa@test         ECDSA-384 certificate      ecdsa.gw.test    gw-ecdsa (ECDSA-256)
#
# All of them: the same phase 1 proposals (strongSwan picks the IKEv1 ike_cfg by address before
# it sees an identity), ESP AES-GCM only with PFS optional (a proposal without and one with a
# group), a Mode Config pool of their own (203.0.113.192/27, DNS 203.0.113.53, Unity split include
# 203.0.113.0/25 and default domain v1.example.test), DPD every 30 s. The PSK is the bed's
# TEST_PSK; XAUTH user "alice" has the password "alice's xauth password".
# Lifetimes: TB_V1_REKEY_IKE (phase 1, default 4h), TB_V1_REKEY_CHILD (Quick Mode, default 1h).

V1_IKE_PROPOSALS=aes256-aes128-sha256-sha384-sha1-modp2048-modp3072-ecp256-ecp384-curve25519,3des-sha1-modp1024
V1_ESP_PROPOSALS=aes256gcm16-aes128gcm16,aes256gcm16-aes128gcm16-modp2048-ecp256-curve25519
V1_XAUTH_USER=alice
V1_XAUTH_PASSWORD="alice's xauth password"

# v1_conn NAME CLIENT_ID LOCAL_AUTH_LINES REMOTE_AUTH [EXTRA_CONN_LINES] [REMOTE2_BLOCK]
v1_conn() {
  cat <<C
  $1 {
    version = 1
    local_addrs = $GW_ADDR
    pools = pool4v1
    proposals = $V1_IKE_PROPOSALS
    dpd_delay = 30s
    rekey_time = ${TB_V1_REKEY_IKE:-4h}
    ${5:-}
    local {
      $3
    }
    remote {
      auth = $4
      id = $2
    }
    ${6:-}
    children {
      net {
        local_ts = 203.0.113.0/25
        esp_proposals = $V1_ESP_PROPOSALS
        dpd_action = clear
        rekey_time = ${TB_V1_REKEY_CHILD:-1h}
      }
    }
  }
C
}

v1_conns() {
  v1_conn v1psk v1-psk@test 'auth = psk
      id = v1.gw.test' psk
  v1_conn v1xauth v1-xauth@test 'auth = psk
      id = v1.gw.test' psk '' 'remote-xauth {
      auth = xauth-generic
    }'
  v1_conn v1aggr v1-aggr@test 'auth = psk
      id = v1.gw.test' psk 'aggressive = yes'
  v1_conn v1rsa client-rsa@test "auth = pubkey
      certs = $PKI/gw-rsa.crt
      id = rsa.gw.test" pubkey 'send_cert = always
    send_certreq = yes'
  v1_conn v1ecdsa client-ecdsa@test "auth = pubkey
      certs = $PKI/gw-ecdsa.crt
      id = ecdsa.gw.test" pubkey 'send_cert = always
    send_certreq = yes'
}

v1_pools() {
  cat <<C
  pool4v1 {
    addrs = 203.0.113.192/27
    dns = 203.0.113.53
    split_include = 203.0.113.0/25
    # UNITY_DEF_DOMAIN (28674)
    28674 = v1.example.test
  }
C
}

v1_secrets() {
  cat <<C
  ike-v1 {
    id-gw = v1.gw.test
    id-psk = v1-psk@test
    id-xauth = v1-xauth@test
    id-aggr = v1-aggr@test
    secret = "$TEST_PSK"
  }
  xauth-alice {
    id = $V1_XAUTH_USER
    secret = "$V1_XAUTH_PASSWORD"
  }
C
}
