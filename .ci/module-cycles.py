#!/usr/bin/env python3
# Fails when modules of src/ import each other in a cycle (crate:: and
# super:: paths outside comments and test modules; check::X, cli::X,
# report::X and render::X count as modules of their own).
import re,os,sys,itertools
root=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
mods={}
for dp,dn,fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs') or f=='main.rs': continue
        p=os.path.join(dp,f)
        rel=os.path.relpath(p,root)[:-3].replace('/mod','').replace(os.sep,'::')
        mods[rel]=open(p).read()
def unit(m):
    parts=m.split('::')
    if parts[0] in ('check','cli','report','render') and len(parts)>1: return parts[0]+'::'+parts[1]
    return parts[0]
known=set(unit(m) for m in mods)|set(m.split('::')[0] for m in mods)
edges={}
for m,src in mods.items():
    src=re.sub(r'#\[cfg\(test\)\]\s*mod tests.*','',src,flags=re.S)
    src=re.sub(r'//[^\n]*','',src)
    u=unit(m)
    # expand use crate::{a::{..}, b} roughly: find crate:: paths and brace groups
    refs=set()
    for mt in re.finditer(r'crate::([a-z_]+)(?:::([a-z_]+))?',src):
        a,b=mt.group(1),mt.group(2)
        cand=a+'::'+b if b and (a+'::'+b) in known else a
        refs.add(cand)
    for mt in re.finditer(r'use crate::\{(.*?)\};',src,re.S):
        body=mt.group(1)
        depth=0;cur='';items=[]
        for ch in body:
            if ch=='{':depth+=1
            if ch=='}':depth-=1
            if ch==',' and depth==0: items.append(cur.strip());cur=''
            else: cur+=ch
        items.append(cur.strip())
        for it in items:
            segs=re.findall(r'[a-z_]+',it.split('{')[0])
            if not segs: continue
            cand=segs[0]+'::'+segs[1] if len(segs)>1 and segs[0]+'::'+segs[1] in known else segs[0]
            refs.add(cand)
    for mt in re.finditer(r'super::([a-z_]+)',src):
        parent='::'.join(m.split('::')[:-1])
        if parent: refs.add(unit(parent+'::'+mt.group(1)))
    refs={r for r in refs if r in known and r!=u and not u.startswith(r+'::') }
    edges.setdefault(u,set()).update(refs)
# find cycles between top-level units via DFS on SCCs
import collections
idx={};low={};st=[];on=set();sccs=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: sccs.append(comp)
sys.setrecursionlimit(10000)
for v in list(edges): 
    if v not in idx: sc(v)
for comp in sccs:
    print('CYCLE:',sorted(comp))
    for a in comp:
        print('  ',a,'->',sorted(x for x in edges[a] if x in comp))
if not sccs: print('no import cycles between modules')
sys.exit(1 if sccs else 0)
