package cfn

import (
	"strings"
	"testing"
)

const tmpl = `
Conditions:
  C: !Not [!Equals [!Ref X, ""]]
Resources:
  A:
    Type: AWS::X::Y
    Properties:
      Literal: hello
      Number: 25
      Quoted: "25"
      Flag: "true"
      Ref: !Ref Other
      Long: {"Fn::Sub": "x"}
      GetAtt: !GetAtt [T, StreamArn]
      List: [a, b]
      Shared: &s {K: v}
      Alias: *s
  B:
    Type: AWS::X::Z
`

func TestNodes(t *testing.T) {
	tp, err := Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	res, err := tp.Resources()
	if err != nil || len(res) != 2 || res[0].LogicalID != "A" || res[1].Type != "AWS::X::Z" || res[1].Properties.Present() {
		t.Fatalf("resources %+v %v", res, err)
	}
	p := res[0].Properties
	get := func(k string) Node {
		n, ok := p.Get(k)
		if !ok {
			t.Fatalf("no %s", k)
		}
		return n
	}
	if s, err := get("Literal").String(); s != "hello" || err != nil {
		t.Errorf("Literal %q %v", s, err)
	}
	if n, err := get("Number").Int(); n != 25 || err != nil {
		t.Errorf("Number %d %v", n, err)
	}
	if n, err := get("Quoted").Int(); n != 25 || err != nil {
		t.Errorf("Quoted %d %v", n, err)
	}
	if b, err := get("Flag").Bool(); !b || err != nil {
		t.Errorf("Flag %v %v", b, err)
	}
	if _, err := get("Ref").String(); err == nil || !strings.Contains(err.Error(), "Resources.A.Properties.Ref (line 12) is !Ref") {
		t.Errorf("Ref: %v", err)
	}
	if _, err := get("Long").String(); err == nil || !strings.Contains(err.Error(), "is Fn::Sub") {
		t.Errorf("Long: %v", err)
	}
	if get("GetAtt").Tag() != "!GetAtt" {
		t.Error("GetAtt tag")
	}
	if l, err := get("GetAtt").Untagged().Strings(); err != nil || strings.Join(l, ".") != "T.StreamArn" {
		t.Errorf("GetAtt untagged %v %v", l, err)
	}
	if l, err := get("List").Strings(); err != nil || len(l) != 2 {
		t.Errorf("List %v %v", l, err)
	}
	if k, ok := get("Alias").Get("K"); !ok {
		t.Error("alias not resolved")
	} else if v, _ := k.String(); v != "v" {
		t.Errorf("alias value %q", v)
	}
	if _, err := tp.Resource("Nope"); err == nil {
		t.Error("want error for a missing resource")
	}
	if _, err := Parse([]byte("- a\n- b\n")); err == nil {
		t.Error("want error for a non-mapping template")
	}
}
