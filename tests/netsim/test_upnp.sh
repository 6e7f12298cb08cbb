#!/usr/bin/env bash
# The upnp preset: miniupnpd answers SSDP on the LAN, reports the router's WAN address, and an
# AddPortMapping opens a UDP port through the otherwise port-restricted NAT; nat flush forgets it.
. "$(dirname "$0")/lib.sh" curl miniupnpd
run=tu$$
up "$TOPOS/upnp.topo" "$run"
w=$("$NETSIM" addr --name "$run" nat)
gw=10.1.0.1
msearch=$(printf 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n')
ssdp=$(probe "$run" a bind s 0 send s 239.255.255.250:1900 "$msearch" recv s 3000)
loc=$(sed -n 's/.*LOCATION: \([^ ]*\).*/\1/p' <<<"$ssdp")
check "SSDP discovery finds the IGD ($loc)" [ "$loc" = "http://$gw:5000/rootDesc.xml" ]
svc=$(nx "$run" a curl -s -m 3 "$loc" | tr -d '\r\n' | sed 's|<service>|\n|g' | grep 'WANIPConnection' || true)
ctl=$(sed -n 's|.*<controlURL>\([^<]*\)</controlURL>.*|\1|p' <<<"$svc")
svc=$(sed -n 's|.*<serviceType>\([^<]*\)</serviceType>.*|\1|p' <<<"$svc")
check "the description names a WANIPConnection service type ($svc)" [ -n "$svc" ]
check "the description gives its control URL ($ctl)" [ -n "$ctl" ]

soap() { # soap ACTION BODY
	nx "$run" a curl -s -m 3 -H 'Content-Type: text/xml; charset="utf-8"' \
		-H "SOAPAction: \"$svc#$1\"" \
		--data "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:$1 xmlns:u=\"$svc\">$2</u:$1></s:Body></s:Envelope>" \
		"http://$gw:5000$ctl"
}
ext=$(soap GetExternalIPAddress '' | sed -n 's|.*<NewExternalIPAddress>\([^<]*\)<.*|\1|p')
check "GetExternalIPAddress is the WAN address ($ext)" [ "$ext" = "$w" ]

knock() { # knock PORT: does a packet from pub to W:PORT reach a's socket on 44000?
	catch "$run" a 44000 1000 pub bind s 0 send s "$w:$1" knock
}
check "before mapping: pub cannot reach a" [ "$(knock 44001)" = timeout ]
soap AddPortMapping '<NewRemoteHost></NewRemoteHost><NewExternalPort>44001</NewExternalPort><NewProtocol>UDP</NewProtocol><NewInternalPort>44000</NewInternalPort><NewInternalClient>10.1.0.2</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>netsim</NewPortMappingDescription><NewLeaseDuration>60</NewLeaseDuration>' >/dev/null
out=$(knock 44001)
check "after AddPortMapping 44001 -> a:44000: pub reaches a ($out)" [ "${out#* }" = knock ]
"$NETSIM" nat --name "$run" nat flush
check "nat flush restarts miniupnpd without the lease" [ "$(knock 44001)" = timeout ]
